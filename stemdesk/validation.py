"""Reading what users and other programs hand us through a schema, with one-line errors.

The schemas themselves are pydantic models beside what they describe (model cards
in :mod:`stemdesk.models`, presets in :mod:`stemdesk.presets`...); this module only
turns pydantic's report into a :class:`StemdeskError` naming the file and the field.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import StemdeskError

Schema = TypeVar("Schema", bound=BaseModel)


def read_json(path: str | os.PathLike, what: str) -> Any:
    """The parsed JSON in ``path``; StemdeskError ("<what> <path> ...") when missing or not JSON."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StemdeskError(f"{what} not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StemdeskError(f"{what} {path} is not valid JSON: {error}") from None


def validated(schema: type[Schema], raw: Any, source: str | os.PathLike, what: str) -> Schema:
    """``raw`` checked against ``schema``; StemdeskError "<what> <source>: <field>: <problem>" if it fails."""
    try:
        return schema.model_validate(raw)
    except ValidationError as error:
        raise StemdeskError(f"{what} {source}: {describe(error)}") from None


def describe(error: ValidationError) -> str:
    """The first problem of a pydantic report as ``field.path: message`` (and how many more)."""
    problems = error.errors(include_url=False)
    first = problems[0]
    field = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    # A check across fields has no location; its message names the fields.
    return f"{field}: {message}{more}" if field else f"{message}{more}"
