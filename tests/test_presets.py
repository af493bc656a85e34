"""Presets chain real models: two passes of the Spleeter model make a three-stem preset."""

import json

import numpy as np
import pytest

from stemdesk.audio import Audio
from stemdesk.chunking import CancelToken, Cancelled
from stemdesk.cli import main
from stemdesk.errors import StemdeskError
from stemdesk.models import ModelRepo
from stemdesk.presets import PresetSeparator, Preset, installed_presets, open_separator


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
    repo = ModelRepo([model_dir])
    separator = open_separator("lead-backing", device="cpu", repo=repo)
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
    repo = ModelRepo([model_dir])
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        open_separator("lead-backing", device="cpu", repo=repo).separate(demo_audio, cancel=token)
    bad = json.loads((model_dir / "lead-backing.json").read_text())
    bad["id"], bad["steps"][1]["keep"] = "bad", "kazoo"
    (model_dir / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(StemdeskError, match="no stem 'kazoo'"):
        open_separator(str(model_dir / "bad.json"), device="cpu", repo=repo)
    (model_dir / "broken.json").write_text('{"kind": "preset", "steps": []}')
    with pytest.raises(StemdeskError, match="invalid"):
        Preset.load(model_dir / "broken.json")
    assert [p.id for p in installed_presets(repo)] == ["bad", "lead-backing"]


def test_cli_separates_and_lists_with_a_preset(model_dir, demo_audio, tmp_path, monkeypatch, capsys):
    import soundfile as sf

    monkeypatch.setenv("STEMDESK_MODEL_PATH", str(model_dir))
    song = tmp_path / "song.wav"
    sf.write(song, demo_audio.samples[:, : 2 * 44100].T, 44100, subtype="FLOAT")
    assert main(["separate", str(song), "--model", "lead-backing", "-o", str(tmp_path / "out"),
                 "--bit-depth", "float"]) == 0
    assert sorted(p.name for p in (tmp_path / "out" / "song").glob("*.wav")) == ["backing.wav", "band.wav", "lead.wav"]
    assert main(["models"]) == 0
    assert "lead-backing" in capsys.readouterr().out
