"""Presets chain real models: two passes of the Spleeter model make a three-stem preset."""

import hashlib
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
    assert sorted(p.name for p in (tmp_path / "out" / "song").glob("*.wav")) == ["backing.wav", "band.wav", "lead.wav"]
    assert main(["models"]) == 0
    assert "lead-backing" in capsys.readouterr().out


def three_stem_model(folder, raw_card):
    """A real ONNX mask network with three stems ("low", "high", "even"), built here: the masks are
    sigmoids of the magnitude, so each stem takes a different share of every bin."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
    axis = helper.make_tensor("axis", TensorProto.INT64, [1], [1])
    nodes = [
        helper.make_node("Sub", ["magnitude", "one"], ["shifted"]),
        helper.make_node("Sigmoid", ["shifted"], ["low"]),
        helper.make_node("Neg", ["shifted"], ["flipped"]),
        helper.make_node("Sigmoid", ["flipped"], ["high"]),
        helper.make_node("Mul", ["magnitude", "zero"], ["nothing"]),
        helper.make_node("Sigmoid", ["nothing"], ["even"]),
        *[helper.make_node("Unsqueeze", [name, "axis"], [f"{name}_stem"]) for name in ("low", "high", "even")],
        helper.make_node("Concat", ["low_stem", "high_stem", "even_stem"], ["stacked"], axis=1),
        # (batch, stems, channels, frames, bins) as the card's layout says.
        helper.make_node("Identity", ["stacked"], ["mask"]),
    ]
    dims = ["batch", 2, "frames", raw_card["bins"]]
    graph = helper.make_graph(
        nodes, "three-stems",
        [helper.make_tensor_value_info("magnitude", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", 3, 2, "frames", raw_card["bins"]])],
        initializer=[one, zero, axis],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = folder / "three-stems.onnx"
    onnx.save(model, path)
    card = dict(raw_card, id="three-stems", name="Three sigmoid stems", stems=["low", "high", "even"],
                onnx=path.name, sha256=hashlib.sha256(path.read_bytes()).hexdigest(), metrics={})
    (folder / "three-stems.json").write_text(json.dumps(card))


def test_a_chain_shaped_like_band_gives_every_stem_once_and_sums_to_the_song(model_dir, demo_audio):
    """band's shape with mask models: a step keeping two of three stems, then a model on what is left."""
    raw = json.loads((model_dir / "spleeter-2stems.json").read_text())
    three_stem_model(model_dir, raw)
    preset = {"id": "shape", "name": "band-shaped", "version": "1.0.0", "kind": "preset",
              "steps": [{"model": "three-stems", "keep": ["high", "low"]},
                        {"model": "spleeter-2stems", "keep": "vocals"}],
              "residual": "other"}
    (model_dir / "shape.json").write_text(json.dumps(preset))
    catalogue = Catalogue([model_dir])
    separator = catalogue.open("shape", device="cpu")
    assert separator.stems == ("high", "low", "vocals", "other")
    assert separator.card.stages == ("high + low", "vocals")
    excerpt = Audio(demo_audio.samples[:, : 4 * 44100], demo_audio.rate)
    stems = separator.separate(excerpt)
    assert tuple(stems) == separator.stems
    np.testing.assert_allclose(sum(s.samples for s in stems.values()), excerpt.samples, atol=1e-5)
    alone = catalogue.open("three-stems", device="cpu").separate(excerpt)
    for stem in ("high", "low"):
        np.testing.assert_array_equal(stems[stem].samples, alone[stem].samples)
    # The second model ran on the first one's "even" stem: what the kept stems left.
    np.testing.assert_allclose(stems["vocals"].samples + stems["other"].samples, alone["even"].samples, atol=1e-5)
    energy = {name: float(np.mean(s.samples**2)) for name, s in stems.items()}
    assert all(value > 1e-9 for value in energy.values()), energy
