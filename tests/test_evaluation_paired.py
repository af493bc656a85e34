"""Comparing two evaluations song by song (`python -m stemdesk.evaluation.paired`)."""

import json

import numpy as np
import pytest

from stemdesk.audio import Audio, write_audio
from stemdesk.errors import StemdeskError
from stemdesk.evaluation import main as evaluate
from stemdesk.evaluation.paired import main, paired_difference, song_scores
from stemdesk.models import SHIPPED_MODEL_DIR

RATE = 44_100


def test_a_steady_gain_is_found_and_a_model_against_itself_finds_none():
    rng = np.random.default_rng(0)
    base = {f"song{i}": float(value) for i, value in enumerate(rng.normal(1.0, 2.0, 12))}
    better = {song: value + 0.5 + 0.1 * rng.standard_normal() for song, value in base.items()}
    gain = paired_difference(base, better)
    assert gain.songs == 12 and gain.higher == 12
    assert gain.median == pytest.approx(0.5, abs=0.1) and gain.p_value < 0.01
    # The other way round: the same difference, negated, and never higher.
    loss = paired_difference(better, base)
    assert loss.median == pytest.approx(-gain.median) and loss.higher == 0 and loss.p_value == gain.p_value
    same = paired_difference(base, dict(base))
    assert (same.median, same.higher, same.p_value) == (0.0, 0, 1.0)
    # Two models whose medians differ by chance: an alternating +-1 dB leaves p high.
    noisy = {song: value + (1.0 if i % 2 else -1.0) for i, (song, value) in enumerate(sorted(base.items()))}
    assert paired_difference(base, noisy).p_value > 0.5


def test_only_the_songs_both_scored_are_paired():
    base = {"a": 0.0, "b": 1.0, "c": 2.0}
    other = {"b": 2.0, "c": 4.0, "d": 9.0}
    difference = paired_difference(base, other)
    assert difference.songs == 2 and difference.median == pytest.approx(1.5)
    with pytest.raises(StemdeskError, match="share 1 song"):
        paired_difference({"a": 0.0, "b": 1.0}, {"b": 2.0})


def write_song(root, name, guitar_hz):
    """A mono rendered-layout song with a guitar and a bass tone."""
    t = np.arange(2 * RATE) / RATE
    stems = {"guitar": 0.2 * np.sin(2 * np.pi * guitar_hz * t), "bass": 0.3 * np.sin(2 * np.pi * 82 * t)}
    folder = root / "test" / name
    folder.mkdir(parents=True)
    for stem, samples in {**stems, "mixture": sum(stems.values())}.items():
        write_audio(folder / f"{stem}.wav", Audio(samples[None].astype(np.float32), RATE), subtype="FLOAT")
    (folder / "metadata.json").write_text(json.dumps({"stems": list(stems)}))


@pytest.fixture(scope="module")
def two_reports(tmp_path_factory):
    """The .json of `stemdesk eval` of guitar-unet and of the same net with a sharper mask, on 3 songs."""
    root = tmp_path_factory.mktemp("paired")
    for index, hz in enumerate((440, 660, 990)):
        write_song(root / "data", f"s{index}", hz)
    card = json.loads((SHIPPED_MODEL_DIR / "guitar-unet.json").read_text())
    sharper = root / "sharper" / "guitar-unet.json"
    sharper.parent.mkdir()
    sharper.write_text(json.dumps(dict(card, mask_power=3.0)))
    (sharper.parent / card["onnx"]).symlink_to(SHIPPED_MODEL_DIR / card["onnx"])
    reports = []
    for name, model in (("shipped", "guitar-unet"), ("sharper", str(sharper))):
        report = root / f"{name}.md"
        assert evaluate(["--model", model, "--data", str(root / "data"), "--seconds", "1", "--device", "cpu",
                         "--report", str(report)]) == 0
        reports.append(report.with_suffix(".json"))
    return reports


def test_two_evaluations_are_compared_song_by_song(two_reports, capsys):
    shipped, sharper = two_reports
    base, other = song_scores(shipped, "guitar"), song_scores(sharper, "guitar")
    assert sorted(base) == sorted(other) == ["s0", "s1", "s2"]
    assert base != other  # the sharper mask does separate differently
    assert main([str(shipped), str(sharper), str(shipped), "--stem", "guitar"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("| report | songs | median sdr |") and len(table) == 5
    expected = paired_difference(base, other)
    assert f"| {expected.median:+.2f} | {expected.mean:+.2f} | {expected.higher}/3 |" in table[3]
    # The base against itself: no change at all.
    assert table[4].endswith("| +0.00 | +0.00 | 0/3 | 1.000 |")


def test_what_cannot_be_compared_is_one_line_each(two_reports, tmp_path, capsys):
    shipped, _ = two_reports
    markdown = shipped.with_suffix(".md")
    cases = [
        ([str(markdown), str(shipped)], "is not the .json of a stemdesk eval report"),
        ([str(shipped), str(tmp_path / "missing.json")], "cannot read the report"),
        ([str(shipped), str(shipped), "--stem", "piano"], "scored no song for stem 'piano' (its stems: guitar, rest)"),
    ]
    for argv, message in cases:
        argv = argv if "--stem" in argv else [*argv, "--stem", "guitar"]
        assert main(argv) == 2
        error = capsys.readouterr().err.strip()
        assert message in error and "\n" not in error
