#!/usr/bin/env bash
# Build the desktop bundle dist/stemdesk/ (PyInstaller, one folder) and print its size.
#
# Once, on Debian or Ubuntu:
#   sudo apt-get install libportaudio2     # PortAudio, copied into the bundle for playback
#   python3 -m venv .venv && . .venv/bin/activate
#   pip install -e ".[gui]" -r packaging/requirements.txt
# Then, from any folder: packaging/build.sh   (the active venv, else .venv/)
# Run the result: dist/stemdesk/stemdesk [SONG | --demo | separate ...]
# Install for the desktop: see packaging/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f .venv/bin/activate ]; then
    . .venv/bin/activate
fi
if ! python -c "import PyInstaller" 2>/dev/null; then
    echo "build.sh: PyInstaller is missing: pip install -r packaging/requirements.txt" >&2
    exit 1
fi
start=$SECONDS
python -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller \
    packaging/stemdesk.spec
echo "Built dist/stemdesk/ in $((SECONDS - start)) s: $(du -sh dist/stemdesk | cut -f1)"
