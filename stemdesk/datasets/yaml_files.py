"""Reading the YAML metadata of MedleyDB and Slakh2100 (PyYAML is needed only for them)."""

from __future__ import annotations

from pathlib import Path

from stemdesk.errors import StemdeskError


def read_yaml_mapping(path: Path) -> dict:
    """The top-level mapping of a YAML file; StemdeskError naming the file if it is not one."""
    try:
        import yaml
    except ImportError:
        raise StemdeskError(f"reading '{path}' needs PyYAML: pip install pyyaml") from None
    # The C loader, where PyYAML was built with it, reads Slakh's 2100 files several times faster.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        content = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise StemdeskError(f"cannot read '{path}': {error}") from error
    if not isinstance(content, dict):
        raise StemdeskError(f"cannot read '{path}': expected a YAML mapping at the top level")
    return content
