"""The desktop entry, the AppStream metainfo and the app icon agree with each other and with the app.

No __init__.py in this folder on purpose: as a package it would be importable
as ``packaging`` and shadow the PyPI package of that name (pytest puts tests/
on sys.path).
"""

import configparser
import importlib.util
import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import stemdesk
from stemdesk.audio import SUPPORTED_SUFFIXES

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "io.github.stemdesk.Stemdesk"
DESKTOP_FILE = ROOT / "packaging" / f"{APP_ID}.desktop"
METAINFO = ROOT / "packaging" / f"{APP_ID}.metainfo.xml"
ICONS = ROOT / "resources" / "icons" / "hicolor"
# shared-mime-info's file-name patterns (Debian package shared-mime-info).
MIME_GLOBS = Path("/usr/share/mime/globs2")


def desktop_entry() -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in desktop files
    parser.read(DESKTOP_FILE, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def listed(value: str) -> list[str]:
    """A desktop-file list ("a;b;") as a Python list."""
    return [item for item in value.split(";") if item]


def load_render_icons():
    spec = importlib.util.spec_from_file_location("render_icons", ROOT / "packaging" / "render_icons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rgba(image) -> np.ndarray:
    from PySide6.QtGui import QImage

    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    return np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.width(), 4).astype(float)


def test_desktop_entry_launches_stemdesk_with_its_icon_in_the_music_menus():
    entry = desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == "stemdesk"
    assert entry["Exec"].split()[0] == "stemdesk" == entry["TryExec"]
    assert entry["Exec"].split()[1:] == ["%f"]  # the window opens one song
    assert entry["Terminal"] == "false"
    assert entry["Icon"] == APP_ID
    assert {"AudioVideo", "Audio", "Music"} <= set(listed(entry["Categories"]))
    assert entry["Comment"] and entry["GenericName"]


def test_app_icon_is_an_svg_with_pngs_at_each_size():
    svg = ET.parse(ICONS / "scalable" / "apps" / f"{APP_ID}.svg").getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    for size in (48, 128, 256):
        png = (ICONS / f"{size}x{size}" / "apps" / f"{APP_ID}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert (width, height) == (size, size)


def test_committed_pngs_are_renders_of_the_committed_svg(qapp, tmp_path):
    """Fails after an edit of the SVG without `python packaging/render_icons.py`."""
    from PySide6.QtGui import QImage

    render_icons = load_render_icons()
    for size in render_icons.SIZES:
        fresh = tmp_path / f"{size}.png"
        render_icons.render(render_icons.SVG, size, fresh)
        pixels = [rgba(QImage(str(path))) for path in (fresh, render_icons.png_path(size))]
        # Antialiasing may differ by a level or two between Qt versions; a changed drawing does not.
        assert np.abs(pixels[0] - pixels[1]).mean() < 1.0


def test_metainfo_describes_this_app_and_release():
    component = ET.parse(METAINFO).getroot()
    assert component.tag == "component" and component.get("type") == "desktop-application"
    assert component.findtext("id") == APP_ID
    launchable = component.find("launchable")
    assert launchable.get("type") == "desktop-id" and launchable.text == DESKTOP_FILE.name
    assert component.findtext("provides/binary") == desktop_entry()["TryExec"]
    assert component.findtext("name") == desktop_entry()["Name"]
    assert component.findtext("summary")
    assert component.find("description/p") is not None
    licence = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert component.findtext("project_license") == licence
    assert component.find("releases/release").get("version") == stemdesk.__version__


@pytest.mark.skipif(not MIME_GLOBS.exists(), reason="shared-mime-info is not installed")
def test_mime_types_are_exactly_the_audio_files_stemdesk_decodes():
    globs: dict[str, set[str]] = {}
    for line in MIME_GLOBS.read_text().splitlines():
        if not line.startswith("#"):
            _weight, mime_type, pattern = line.split(":")[:3]
            if pattern.startswith("*."):
                globs.setdefault(mime_type, set()).add(pattern[1:])
    claimed = listed(desktop_entry()["MimeType"])
    for mime_type in claimed:
        assert mime_type.startswith("audio/")
        assert globs.get(mime_type, set()) & SUPPORTED_SUFFIXES, f"stemdesk opens no {mime_type} file"
    audio_suffixes = {suffix for mime_type, suffixes in globs.items() if mime_type.startswith("audio/")
                      for suffix in suffixes} & SUPPORTED_SUFFIXES
    unclaimed = {suffix for suffix in audio_suffixes if not any(suffix in globs[t] for t in claimed)}
    assert not unclaimed, f"audio files stemdesk decodes but the menu entry does not offer: {unclaimed}"


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="Debian package desktop-file-utils")
def test_desktop_file_validate_accepts_the_entry():
    result = subprocess.run(["desktop-file-validate", str(DESKTOP_FILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="Debian package appstream")
def test_appstreamcli_validates_the_metainfo():
    result = subprocess.run(["appstreamcli", "validate", "--no-net", str(METAINFO)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
