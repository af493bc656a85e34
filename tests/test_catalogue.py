"""The catalogue of installed models and presets, and the checks every card goes through when read."""

import json

import pytest

from stemdesk.catalogue import Catalogue
from stemdesk.cli import main
from stemdesk.errors import StemdeskError
from stemdesk.models import ModelCard
from stemdesk.separators import SeparatorCard, StemSeparator

PRESET = {
    "id": "twice", "name": "Vocals twice", "version": "1.0.0", "kind": "preset",
    "steps": [{"model": "spleeter-2stems", "keep": "vocals", "as": "lead"},
              {"model": "spleeter-2stems", "keep": "vocals", "as": "backing"}],
    "residual": "band",
}


@pytest.fixture
def raw_card(default_card):
    return json.loads(default_card.card_path.read_text())


def write_card(folder, name, raw):
    (folder / f"{name}.json").write_text(json.dumps(raw))


@pytest.mark.parametrize("field, value, expected", [
    ("hop_length", 0, "hop_length: Input should be greater than or equal to 1"),
    ("sample_rate", 0, "sample_rate: Input should be greater than or equal to 1000"),
    ("n_fft", 0, "n_fft: Input should be greater than or equal to 16"),
    ("n_fft", 4000, "hop_length 1024 must divide n_fft 4000"),
    ("bins", 4000, "bins 4000 exceeds the 2049 bins of n_fft 4096"),
    ("segment_frames", 100, "segment_frames 100 is not a multiple of frame_multiple 64"),
    ("channels", 3, "channels: Input should be 1 or 2"),
    ("stems", "vocals", "stems: Input should be a valid tuple"),
    ("stems", ["vocals"], "stems: Value should have at least 2 items"),
    ("stems", ["vocals", "vocals"], "stems: names must be distinct"),
    ("stems", ["vocals", "../x"], "stems.1: String should match pattern"),
    ("mask_power", -1, "mask_power: Input should be greater than 0"),
    ("window", "hamming", "window: Input should be 'hann'"),
    ("onnx", "../elsewhere.onnx", "onnx: String should match pattern"),
    ("sha256", "abc", "sha256: String should match pattern"),
    ("input", {"name": "magnitude", "layout": "batch,channels,time,bins", "holds": "magnitude"},
     "input.layout.2: Input should be 'batch', 'stems', 'channels', 'frames' or 'bins'"),
    ("input", {"name": "magnitude", "layout": "batch,channels,frames,frames", "holds": "magnitude"},
     "input.layout: names must be distinct"),
    ("output", {"name": "mask", "layout": "batch,channels,frames,bins", "holds": "mask"},
     "output layout batch,channels,frames,bins needs batch,stems,channels,frames,bins"),
    ("output", {"name": "mask", "layout": "batch,stems,channels,frames,bins", "holds": "phase"},
     "output holds 'phase'"),
    ("postfilter", {"type": "wiener", "iterations": -1}, "postfilter.iterations: Input should be greater"),
    ("postfilter", {"type": "median"}, "postfilter.type: Input should be 'wiener'"),
    ("frame_multiple", 0, "frame_multiple: Input should be greater than or equal to 1"),
    ("cpu_int8_convolutions", "^/decoder.(", "cpu_int8_convolutions: not a regular expression"),
    ("hop_lenght", 1024, "hop_lenght: Extra inputs are not permitted"),
    ("kind", "kazoo", "kind 'kazoo' is unknown"),
])
def test_a_card_with_a_bad_field_is_refused_in_one_line_naming_file_and_field(
    tmp_path, raw_card, field, value, expected
):
    write_card(tmp_path, "spleeter-2stems", dict(raw_card, **{field: value}))
    with pytest.raises(StemdeskError) as raised:
        Catalogue([tmp_path]).get("spleeter-2stems")
    message = str(raised.value)
    assert str(tmp_path / "spleeter-2stems.json") in message and expected in message
    assert "\n" not in message


def test_a_card_without_a_field_names_it(tmp_path, raw_card):
    del raw_card["n_fft"]
    write_card(tmp_path, "spleeter-2stems", raw_card)
    with pytest.raises(StemdeskError, match=r"spleeter-2stems.json: n_fft: Field required"):
        ModelCard.load(tmp_path / "spleeter-2stems.json")


def test_the_catalogue_tells_usable_from_broken_and_opens_every_kind_alike(model_folder, raw_card):
    write_card(model_folder, "twice", PRESET)
    write_card(model_folder, "zero-hop", dict(raw_card, id="zero-hop", hop_length=0))
    write_card(model_folder, "no-weights", dict(raw_card, id="no-weights", onnx="no-weights.onnx"))
    write_card(model_folder, "misnamed", raw_card)
    write_card(model_folder, "orphan", dict(PRESET, id="orphan", steps=[{"model": "zero-hop", "keep": "vocals"}]))
    (model_folder / "garbage.json").write_text("{")
    catalogue = Catalogue([model_folder])
    problems = {entry.id: entry.problem for entry in catalogue.entries()}
    assert problems["spleeter-2stems"] is None and problems["twice"] is None
    assert "zero-hop.json: hop_length" in problems["zero-hop"]
    assert "Model file missing" in problems["no-weights"]
    assert "differs from its file name" in problems["misnamed"]
    assert "orphan.json: steps.0.model" in problems["orphan"] and "hop_length" in problems["orphan"]
    assert "not valid JSON" in problems["garbage"]
    assert catalogue.choices() == [("spleeter-2stems", raw_card["name"]), ("twice", PRESET["name"])]
    for model in ("spleeter-2stems", "twice"):
        separator = catalogue.open(model, device="cpu")
        assert isinstance(separator, StemSeparator) and isinstance(separator.card, SeparatorCard)
        assert separator.card.id == model and len(separator.card.identity) == 64
    assert catalogue.get("twice").license == "MIT"


def test_the_first_folder_wins_and_a_first_broken_card_is_not_replaced(tmp_path, model_folder, raw_card):
    front = tmp_path / "front"
    front.mkdir()
    write_card(front, "spleeter-2stems", dict(raw_card, hop_length=0))
    (entry,) = [e for e in Catalogue([front, model_folder]).entries() if e.id == "spleeter-2stems"]
    assert entry.path.parent == front and not entry.usable


def test_stemdesk_models_marks_broken_models_and_shows_licences(model_folder, raw_card, monkeypatch, capsys):
    write_card(model_folder, "zero-hop", dict(raw_card, id="zero-hop", hop_length=0))
    monkeypatch.setenv("STEMDESK_MODEL_PATH", str(model_folder))
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    (broken,) = [line for line in lines if line.startswith("zero-hop")]
    assert "broken: " in broken and "hop_length" in broken
    (usable,) = [i for i, line in enumerate(lines) if line.startswith("spleeter-2stems")]
    assert "broken" not in lines[usable] and lines[usable + 1].split() == ["licence:", "MIT"]


def test_stemdesk_models_without_a_usable_model_fails(tmp_path, raw_card, monkeypatch, capsys):
    write_card(tmp_path, "zero-hop", dict(raw_card, id="zero-hop", hop_length=0))
    # Only this folder: not the user's nor the shipped models.
    monkeypatch.setattr("stemdesk.catalogue.model_dirs", lambda: [tmp_path])
    assert main(["models"]) == 1
    captured = capsys.readouterr()
    assert "broken:" in captured.out and "no usable models" in captured.err


def test_an_installed_card_follows_this_stemdesks_template_for_the_same_weights(tmp_path):
    """A card written by an older stemdesk (other overlap, float32 weights) is read as the
    template this stemdesk ships for those weights; a card for other weights keeps its own."""
    from stemdesk.models import CARD_TEMPLATES

    template = json.loads((CARD_TEMPLATES / "htdemucs.json").read_text())
    older = {**template, "overlap": 0.25, "cpu_weights": "float32", "version": "0.0.1"}
    for folder in ("old", "own"):
        # Reading a card only checks that its graph is there; nothing here runs it.
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "htdemucs.onnx").touch()
    write_card(tmp_path / "old", "htdemucs", older)
    card = Catalogue([tmp_path / "old"]).get("htdemucs")
    assert (card.overlap, card.cpu_weights, card.version) == (template["overlap"], template["cpu_weights"],
                                                              template["version"])
    assert card.card_path == tmp_path / "old" / "htdemucs.json"
    own = {**older, "sha256": "0" * 64}
    write_card(tmp_path / "own", "htdemucs", own)
    card = Catalogue([tmp_path / "own"]).get("htdemucs")
    assert (card.overlap, card.cpu_weights, card.version) == (0.25, "float32", "0.0.1")
