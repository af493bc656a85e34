"""Time from dropping a song on the window to its first separated sound.

The window runs offscreen with a real PortAudio stream on ALSA's null device
(a temporary HOME with a null ~/.asoundrc) and starts as the app does (its
model opening in the background); --open-for seconds later a song of
--minutes (the demo tiled) is dropped on it, the vocals are soloed and play
is pressed the moment the song appears, and the first audio callback that
outputs the separated stem (not the song itself) stops the clock. Prints
the steps on the way, for each --model and each --open-for, with the load
average (the figures only mean something on a quiet machine). Models are
the user's installed ones too (htdemucs: ``stemdesk models install htdemucs``),
with the optimised graphs the user's cache holds; each is opened once first,
untimed, so that its graph is cached as after the app's first run. The stems
go to a cache of this run's own: every drop is a cache miss.

    python benchmarks/bench_first_sound.py [--minutes 4] [--model spleeter-2stems htdemucs] [--stem vocals]
        [--open-for 0 5] [--engine]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(model: str, song: Path, stem: str, folder: Path, open_for: float) -> dict[str, float]:
    from PySide6.QtCore import QSettings

    from stemdesk.gui.app import create_application
    from stemdesk.gui.main_window import MainWindow
    from tests.gui.first_sound import play_as_soon_as_shown
    from tests.gui.test_separation import drop_files

    app = create_application()
    settings = QSettings(str(folder / f"{model}.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, cache_root=folder / f"cache-{model}-{open_for:g}", model_id=model)
    window.show()
    window.queue.prepare()  # as run_app does
    shown = time.perf_counter()
    while time.perf_counter() - shown < open_for:
        app.processEvents()
        time.sleep(0.01)
    marks: dict[str, float] = {}
    window.queue.device_ready.connect(lambda name: marks.setdefault("model loaded", time.perf_counter()))
    window.queue.progressed.connect(lambda done, total, left: marks.setdefault("separating", time.perf_counter()))
    window.song_growing_shown.connect(lambda loaded: marks.setdefault("song shown", time.perf_counter()))
    probes = play_as_soon_as_shown(window, stem)
    failures: list[str] = []
    window.queue.failed.connect(lambda path, message: failures.append(message))
    opened, cpu_before = time.perf_counter(), time.process_time()
    if not drop_files(window, [song]):
        raise SystemExit("the window did not take the drop")
    while not (probes and probes[0].at) and not failures and time.perf_counter() - opened < 600:
        app.processEvents()
        time.sleep(0.001)
    window.queue.cancel_all()
    window.queue.wait()
    window.close()
    if failures or not probes:
        raise SystemExit(f"{model}: {failures[0] if failures else 'no song shown within 10 minutes'}")
    marks["first separated sound"] = probes[0].at
    steps = {name: at - opened for name, at in sorted(marks.items(), key=lambda item: item[1])}
    # Load-independent: on an idle 2-core machine the wall time is at least half of it.
    steps["CPU time (all threads) to it"] = probes[0].cpu_at - cpu_before
    return steps


def measure_engine(model: str, song: Path, folder: Path) -> dict[str, float]:
    """Without the window: from decoding the song (the model open) to its first final span and its picture."""
    from stemdesk.catalogue import Catalogue
    from stemdesk.chunking import Cancelled, CancelToken
    from stemdesk.display import song_picture
    from stemdesk.session import decode_song, separate_song
    from stemdesk.stem_cache import StemCache

    separator = Catalogue().open(model)
    marks: dict[str, float] = {}
    token = CancelToken()
    started = time.perf_counter()
    session = decode_song(song)
    marks["decoded"] = time.perf_counter()

    def on_growing(growing) -> None:
        marks["first span final"] = time.perf_counter()
        song_picture(session.mixture.samples, growing.stems, session.mixture.rate)
        marks["its picture"] = time.perf_counter()
        token.cancel()

    def progress(done: int, total: int) -> None:
        marks.setdefault("separating", time.perf_counter())

    try:
        separate_song(session, separator, StemCache(folder / f"engine-{model}"), progress, token, on_growing)
    except Cancelled:
        pass
    return {name: at - started for name, at in sorted(marks.items(), key=lambda item: item[1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--model", nargs="+", default=["spleeter-2stems"])
    parser.add_argument("--stem", default="vocals")
    parser.add_argument("--open-for", type=float, nargs="+", default=[0.0],
                        help="seconds the window is open before the drop (its model opening meanwhile)")
    parser.add_argument("--engine", action="store_true",
                        help="also time the engine alone (no window): decode to the first final span")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stemdesk-first-sound-") as temp:
        folder = Path(temp)
        (folder / ".asoundrc").write_text("pcm.!default { type null }\n")
        import platformdirs

        # The user's installed models stay in sight when HOME moves.
        os.environ.setdefault("XDG_DATA_HOME", str(platformdirs.user_data_path()))
        # ... and the optimised graphs the app has cached for them (htdemucs' int8 one takes long to build).
        os.environ.setdefault("XDG_CACHE_HOME", str(platformdirs.user_cache_path()))
        os.environ["HOME"] = str(folder)  # before PortAudio starts: ALSA reads it then
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

        import numpy as np
        import soundfile

        from stemdesk.audio import decode

        demo = decode(ROOT / "resources" / "demo" / "audio_example.mp3")
        song = folder / "song.wav"
        frames = int(args.minutes * 60 * demo.rate)
        soundfile.write(song, np.tile(demo.samples, -(-frames // demo.num_samples))[:, :frames].T, demo.rate,
                        subtype="FLOAT")
        print(f"{args.minutes:g}-minute song, load average {os.getloadavg()[0]:.1f} at the start")
        from stemdesk.catalogue import Catalogue

        for model in args.model:
            Catalogue().open(model)  # its optimised graph cached, as after the app's first run
            if args.engine:
                steps = measure_engine(model, song, folder)
                line = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in steps.items())
                print(f"{model:<18} engine alone: {line} (load average {os.getloadavg()[0]:.1f})", flush=True)
            for open_for in args.open_for:
                steps = measure(model, song, args.stem, folder, open_for)
                line = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in steps.items())
                print(f"{model:<18} open {open_for:g} s before the drop: {line}", flush=True)
        print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
