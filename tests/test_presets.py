"""Presets chain real models: two passes of the Spleeter model make a three-stem preset."""

import json

import numpy as np
import pytest

from stemdesk.audio import Audio
from stemdesk.chunking import CancelToken, Cancelled
from stemdesk.cli import main
from stemdesk.errors import StemdeskError
from stemdesk.catalogue import Catalogue
from stemdesk.presets import PresetSeparator


@pytest.fixture
def model_dir(model_folder):
    folder = model_folder
    preset = {
        "id": "lead-backing", "name": "Lead vocals, backing, band", "version": "1.0.0", "kind": "preset",
        "steps": [{"model": "spleeter-2stems", "keep": "vocals", "as": "lead"},
                  {"model": "spleeter-2stems", "keep": "vocals", "as": "backing"}],
        "residual": "band",
    }
    (folder / "lead-backing.json").write_text(json.dumps(preset))
    return folder


def test_preset_stems_sum_to_the_song_and_progress_moves_forward(model_dir, demo_audio):
    separator = Catalogue([model_dir]).open("lead-backing", device="cpu")
    assert isinstance(separator, PresetSeparator)
    assert separator.stems == ("lead", "backing", "band")
    seen = []
    excerpt = Audio(demo_audio.samples[:, : 4 * 44100], demo_audio.rate)
    stems = separator.separate(excerpt, progress=lambda done, total: seen.append((done, total)))
    assert list(stems) == ["lead", "backing", "band"]
    np.testing.assert_allclose(sum(s.samples for s in stems.values()), excerpt.samples, atol=1e-5)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1] == (2000, 2000)
    # the first pass takes the vocals; the second takes much less from what is left
    energy = {name: float(np.mean(s.samples**2)) for name, s in stems.items()}
    assert energy["backing"] < energy["lead"]


def test_preset_cancel_and_bad_presets(model_dir, demo_audio, tmp_path):
    catalogue = Catalogue([model_dir])
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        catalogue.open("lead-backing", device="cpu").separate(demo_audio, cancel=token)
    good = json.loads((model_dir / "lead-backing.json").read_text())
    bad = dict(good, id="bad", steps=[good["steps"][0], dict(good["steps"][1], keep="kazoo")])
    (model_dir / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(StemdeskError, match=r"bad.json: steps.1.keep: model 'spleeter-2stems' has no stem 'kazoo'"):
        catalogue.open(str(model_dir / "bad.json"), device="cpu")
    (model_dir / "broken.json").write_text('{"kind": "preset", "steps": []}')
    problems = {entry.id: entry.problem for entry in catalogue.entries()}
    assert problems["lead-backing"] is None and problems["spleeter-2stems"] is None
    assert "steps.1.keep" in problems["bad"] and "broken.json" in problems["broken"]
    assert [model for model, _ in catalogue.choices()] == ["spleeter-2stems", "lead-backing"]


@pytest.mark.parametrize("change, field", [
    ({"residual": "lead"}, "stems must be distinct"),
    ({"steps": [{"model": "spleeter-2stems", "keep": "vocals", "as": ["a", "b"]}]}, "'as' names 2 stems but 'keep' 1"),
    ({"steps": [{"model": "spleeter-2stems", "kep": "vocals"}]}, "steps.0.keep: Field required"),
    ({"steps": [{"model": "spleeter-2stems", "keep": []}]}, "steps.0.keep"),
    ({"steps": []}, "steps: "),
    ({"steps": [{"model": "../../etc/passwd", "keep": "vocals"}]}, "steps.0.model"),
    ({"steps": [{"model": "lead-backing", "keep": "lead"}]}, "is a preset"),
    ({"steps": [{"model": "kazoo-unet", "keep": "kazoo"}]}, "steps.0.model: Unknown model 'kazoo-unet'"),
    ({"residual": 3}, "residual"),
    ({"name": ""}, "name"),
    ({"steps": [{"model": "spleeter-2stems", "keep": "vocals", "gain": 2}]}, "steps.0.gain: Extra inputs"),
])
def test_an_invalid_preset_is_an_error_naming_the_file_and_the_field(model_dir, change, field):
    good = json.loads((model_dir / "lead-backing.json").read_text())
    (model_dir / "changed.json").write_text(json.dumps(dict(good, id="changed", **change)))
    with pytest.raises(StemdeskError) as raised:
        Catalogue([model_dir]).get("changed")
    message = str(raised.value)
    assert "changed.json" in message and field in message and "\n" not in message


def test_a_step_keeping_several_stems_hands_on_only_the_rest(model_dir, demo_audio):
    preset = {"id": "both", "name": "Both stems kept, nothing left", "version": "1.0.0", "kind": "preset",
              "steps": [{"model": "spleeter-2stems", "keep": ["accompaniment", "vocals"], "as": ["band", "voice"]}],
              "residual": "silence"}
    (model_dir / "both.json").write_text(json.dumps(preset))
    separator = Catalogue([model_dir]).open("both", device="cpu")
    assert separator.stems == ("band", "voice", "silence")
    excerpt = Audio(demo_audio.samples[:, : 3 * 44100], demo_audio.rate)
    stems = separator.separate(excerpt)
    plain = Catalogue([model_dir]).open("spleeter-2stems", device="cpu").separate(excerpt)
    np.testing.assert_array_equal(stems["voice"].samples, plain["vocals"].samples)
    np.testing.assert_array_equal(stems["band"].samples, plain["accompaniment"].samples)
    assert np.max(np.abs(stems["silence"].samples)) < 1e-5


def test_cli_separates_and_lists_with_a_preset(model_dir, demo_audio, tmp_path, monkeypatch, capsys):
    import soundfile as sf

    monkeypatch.setenv("STEMDESK_MODEL_PATH", str(model_dir))
    song = tmp_path / "song.wav"
    sf.write(song, demo_audio.samples[:, : 2 * 44100].T, 44100, subtype="FLOAT")
    assert main(["separate", str(song), "--model", "lead-backing", "-o", str(tmp_path / "out"),
                 "--bit-depth", "float"]) == 0
    assert sorted(p.name for p in (tmp_path / "out" / "song").iterdir()) == ["backing.wav", "band.wav", "lead.wav"]
    assert main(["models"]) == 0
    assert "lead-backing" in capsys.readouterr().out
