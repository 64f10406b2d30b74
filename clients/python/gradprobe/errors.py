"""Typed errors that name the JSON path of the offending field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Loc = tuple[str | int, ...]


def json_path(loc: Sequence[str | int]) -> str:
    """("model", "nodes", 3, "op") -> "$.model.nodes[3].op"."""
    out = "$"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


@dataclass(frozen=True)
class ErrorDetail:
    """One problem with a spec: where it is and what is wrong."""

    loc: Loc
    message: str
    type: str = "value_error"

    @property
    def path(self) -> str:
        return json_path(self.loc)

    def to_dict(self) -> dict[str, object]:
        return {
            "loc": list(self.loc),
            "path": self.path,
            "message": self.message,
            "type": self.type,
        }


class SpecError(ValueError):
    """A spec that cannot be run; `errors` lists every problem with its JSON path."""

    def __init__(self, errors: Sequence[ErrorDetail]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in self.errors))

    @classmethod
    def at(cls, loc: Sequence[str | int], message: str, type: str = "value_error") -> SpecError:
        return cls([ErrorDetail(tuple(loc), message, type)])
