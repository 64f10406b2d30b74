"""Reading a JSON document (a spec, a study) named on the command line, with a message that
names the file when it cannot be read."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from gradprobe.cli.errors import USAGE, CliError


def read_json(name: str, what: str = "spec") -> dict[str, Any]:
    """The JSON object in file `name` ('-' for standard input); CliError (exit 2) if the file
    is missing, unreadable, not JSON or not an object."""
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"cannot read {what} file {name}: no such file", USAGE) from None
    except IsADirectoryError:
        raise CliError(f"cannot read {what} file {name}: it is a directory", USAGE) from None
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CliError(f"cannot read {what} file {name}: {why}", USAGE) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise CliError(
            f"{what} file {name} is not valid JSON ({where}: {exc.msg})", USAGE
        ) from None
    if not isinstance(doc, dict):
        raise CliError(
            f"{what} file {name} must hold a JSON object, not {type(doc).__name__}", USAGE
        )
    return doc
