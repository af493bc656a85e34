"""``python -m stemdesk.training.synth``: see :mod:`stemdesk.training.synth.command`."""

import sys

from stemdesk.training.synth.command import main

raise SystemExit(main(sys.argv[1:]))
