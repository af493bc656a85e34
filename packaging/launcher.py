"""Entry script of the frozen app: PyInstaller needs a file to run, not a console_scripts entry point."""

import sys

from stemdesk.cli import main

sys.exit(main())
