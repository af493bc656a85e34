"""stemdesk: separate a song into stems and practise with them."""

import sys
from pathlib import Path

__version__ = "0.1.0"

#: Folder that holds `models/` and `resources/`: the checkout, or the
#: PyInstaller bundle's data folder when frozen.
PROJECT_ROOT = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parent.parent))

#: The bundled demo song (a 10.9 s excerpt from Spleeter's repository): what
#: `stemdesk --demo` opens and `stemdesk separate` splits without an input.
DEMO_SONG = PROJECT_ROOT / "resources" / "demo" / "audio_example.mp3"
