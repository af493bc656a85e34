"""Exports of the demo song's real stems, read back from the written files."""

import os

import numpy as np
import pytest
import soundfile

from stemdesk import PROJECT_ROOT
from stemdesk.errors import StemdeskError
from stemdesk.exports import export_mix, export_rest, export_stems
from stemdesk.catalogue import Catalogue
from stemdesk.models import DEFAULT_MODEL
from stemdesk.playback import MixerState
from stemdesk.separate import Separator
from stemdesk.session import open_song

DEMO = PROJECT_ROOT / "resources" / "demo" / "audio_example.mp3"
PCM_16_STEP = 1 / 32768


@pytest.fixture(scope="module")
def song():
    return open_song(DEMO, Separator(Catalogue().get(DEFAULT_MODEL), device="cpu"))


def read_back(path):
    """float32 (channels, samples) and rate of a written file."""
    samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    return samples.T, rate


def test_export_stems_writes_each_stem_exactly_with_progress_per_file(song, tmp_path):
    progress = []

    paths = export_stems(song.stems, None, tmp_path, "wav", "FLOAT", lambda *p: progress.append(p)).paths

    assert paths == [tmp_path / "vocals.wav", tmp_path / "accompaniment.wav"]
    assert progress == [(0, 2), (1, 2), (2, 2)]
    for path, (name, stem) in zip(paths, song.stems.items()):
        samples, rate = read_back(path)
        assert rate == stem.rate
        np.testing.assert_array_equal(samples, stem.samples)
    assert sorted(os.listdir(tmp_path)) == ["accompaniment.wav", "vocals.wav"]


def test_export_chosen_stem_as_flac_24(song, tmp_path):
    (path,) = export_stems(song.stems, ["accompaniment"], tmp_path, "flac", "PCM_24").paths

    assert path == tmp_path / "accompaniment.flac" and os.listdir(tmp_path) == ["accompaniment.flac"]
    samples, _ = read_back(path)
    expected = np.clip(song.stems["accompaniment"].samples, -1, 1)
    np.testing.assert_allclose(samples, expected, atol=2 ** -22)


@pytest.mark.parametrize(
    ("names", "file_format", "subtype", "reason"),
    [
        (["guitar"], "wav", "PCM_16", "Unknown stem guitar"),
        (None, "mp3", "PCM_16", "Unknown format"),
        (None, "flac", "FLOAT", "FLAC takes"),
    ],
)
def test_export_stems_refuses_bad_requests_before_writing(
    song, tmp_path, names, file_format, subtype, reason
):
    with pytest.raises(StemdeskError, match=reason):
        export_stems(song.stems, names, tmp_path, file_format, subtype)
    assert os.listdir(tmp_path) == []


def test_a_stem_that_cannot_be_written_leaves_the_earlier_ones_and_no_partial_file(song, tmp_path):
    # A folder squats the second stem's name: its rename fails after its data was written.
    (tmp_path / "accompaniment.wav").mkdir()

    with pytest.raises(StemdeskError, match="a folder has that name"):
        export_stems(song.stems, None, tmp_path)

    assert sorted(os.listdir(tmp_path)) == ["accompaniment.wav", "vocals.wav"]
    assert (tmp_path / "accompaniment.wav").is_dir() and not os.listdir(tmp_path / "accompaniment.wav")
    assert read_back(tmp_path / "vocals.wav")[0].shape == song.mixture.samples.shape


def test_export_rest_is_the_mixture_minus_the_stem(song, tmp_path):
    (path,) = export_rest(song.stems, song.mixture, "vocals", tmp_path / "no_vocals.wav", "FLOAT").paths

    samples, rate = read_back(path)
    assert rate == song.mixture.rate
    np.testing.assert_array_equal(samples, song.mixture.samples - song.stems["vocals"].samples)
    # The stems sum to the mixture, so the rest of a 2-stem model is the other stem.
    np.testing.assert_allclose(samples, song.stems["accompaniment"].samples, atol=1e-5)


def test_export_rest_of_an_unknown_stem_is_a_one_line_error(song, tmp_path):
    with pytest.raises(StemdeskError, match="Unknown stem drums"):
        export_rest(song.stems, song.mixture, "drums", tmp_path / "no_drums.wav")
    assert os.listdir(tmp_path) == []


def amp(db):
    return 10 ** (db / 20)


@pytest.mark.parametrize(
    ("change", "vocals_amp", "accompaniment_amp"),
    [
        (lambda s: s, 1.0, 1.0),
        (lambda s: s.with_gain("vocals", -6.0).with_gain("accompaniment", 3.0), amp(-6), amp(3)),
        (lambda s: s.with_gain("accompaniment", -4.0).with_master(-2.5), amp(-2.5), amp(-6.5)),
        (lambda s: s.with_mute("vocals").with_gain("accompaniment", -1.0), 0.0, amp(-1)),
        (lambda s: s.with_solo("vocals").with_gain("vocals", 2.0), amp(2), 0.0),
        (lambda s: s.with_gain("vocals", float("-inf")), 0.0, 1.0),
        (lambda s: s.with_solo("vocals").with_mute("vocals"), 0.0, 0.0),
    ],
    ids=["unity", "faders", "master", "mute", "solo", "fader-closed", "solo-and-mute"],
)
def test_export_mix_is_the_weighted_sum_of_the_stems(song, tmp_path, change, vocals_amp, accompaniment_amp):
    state = change(MixerState.for_stems(song.stems))

    (path,) = export_mix(song.stems, state, tmp_path / "mix.wav", "FLOAT").paths

    samples, rate = read_back(path)
    expected = (
        vocals_amp * song.stems["vocals"].samples.astype(np.float64)
        + accompaniment_amp * song.stems["accompaniment"].samples.astype(np.float64)
    )
    assert rate == song.mixture.rate
    assert samples.shape == song.mixture.samples.shape
    np.testing.assert_allclose(samples, expected, rtol=0, atol=2e-6)


def test_export_mix_of_unity_faders_is_the_mixture(song, tmp_path):
    (path,) = export_mix(song.stems, MixerState.for_stems(song.stems), tmp_path / "mix.wav", "FLOAT").paths
    np.testing.assert_allclose(read_back(path)[0], song.mixture.samples, atol=1e-5)


def test_pcm_16_mix_beyond_full_scale_is_lowered_as_a_whole_and_float_keeps_the_overs(song, tmp_path):
    state = MixerState.for_stems(song.stems).with_gain("accompaniment", 12.0)
    expected = song.stems["vocals"].samples + amp(12) * song.stems["accompaniment"].samples
    peak = np.abs(expected).max()
    assert peak > 1.5

    pcm_export = export_mix(song.stems, state, tmp_path / "mix16.wav", "PCM_16")
    float_export = export_mix(song.stems, state, tmp_path / "mixf.wav", "FLOAT")

    assert pcm_export.gain == pytest.approx(1 / peak) and float_export.gain == 1.0
    assert "lowered by" in pcm_export.gain_note() and "16-bit" in pcm_export.gain_note()
    assert float_export.gain_note() is None
    pcm, _ = read_back(pcm_export.paths[0])
    # libsndfile writes x * 32767 and reads back n / 32768: up to one step off, plus rounding.
    np.testing.assert_allclose(pcm, expected / peak, atol=1.5 * PCM_16_STEP)
    floating, _ = read_back(float_export.paths[0])
    np.testing.assert_allclose(floating, expected, atol=2e-6)


@pytest.mark.parametrize("make_folder", ["missing", "a file"])
def test_export_into_an_unusable_folder_is_a_one_line_error_leaving_nothing(song, tmp_path, make_folder):
    folder = tmp_path / "exports"
    if make_folder == "a file":
        folder.write_text("not a folder")
    state = MixerState.for_stems(song.stems)

    for export in (
        lambda: export_mix(song.stems, state, folder / "mix.wav"),
        lambda: export_rest(song.stems, song.mixture, "vocals", folder / "no_vocals.flac"),
        lambda: export_stems(song.stems, None, folder),
    ):
        with pytest.raises(StemdeskError) as error:
            export()
        assert str(folder) in str(error.value) and "\n" not in str(error.value)

    assert os.listdir(tmp_path) == (["exports"] if make_folder == "a file" else [])
