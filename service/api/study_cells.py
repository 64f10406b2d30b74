"""A posted study into its cells: the grid's cartesian product or the named variants, each
a full spec (the base, or a variant's own spec, with dotted-path overrides applied), checked
like a job. A bad cell is a 422 whose error paths name the cell in the study's body:
`$.variants[2].overrides['model.depth']`, `$.grid['model.depth'][1]`, or `$.base.model.width`
for a field the cell took from the base; `cell` and `spec_path` say which cell and where.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from gradprobe.api import ProblemError, StudyCreate
from gradprobe.errors import ErrorDetail, SpecError
from gradprobe.spec import Caps, JobSpec
from service.api.planning import plan_posted
from service.api.problems import ApiError, bad_input

Part = str | int
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NAME_MAX = 200


def body_path(parts: tuple[Part, ...] | list[Part]) -> str:
    """("grid", "model.depth", 1) -> "$.grid['model.depth'][1]"."""
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif IDENT.match(p):
            out += f".{p}"
        else:
            out += "[" + json.dumps(p).replace("'", "\\'").replace('"', "'") + "]"
    return out


@dataclass
class Cell:
    name: str
    spec: dict[str, Any]
    origin: tuple[Part, ...]  # where the cell's own spec sits in the body (or the base)
    # override path (as parts of the spec) -> where its value sits in the body
    overrides: dict[tuple[str, ...], tuple[Part, ...]] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)  # what the study row keeps


def invalid(
    errors: list[ProblemError], detail: str = "the study is not valid", slug: str = "invalid-study"
) -> ApiError:
    return ApiError(422, slug, detail, errors=errors)


def parse_study(raw: dict[str, Any]) -> StudyCreate:
    try:
        body = StudyCreate.model_validate(raw)
    except ValidationError as exc:
        errors = [bad_input(body_path(list(e["loc"])), e["msg"], e["type"]) for e in exc.errors()]
        raise invalid(errors) from None
    if (body.grid is None) == (body.variants is None):
        raise invalid([bad_input("$", "give exactly one of `grid` and `variants`", "one_of")])
    return body


def _set(doc: dict[str, Any], path: str, value: Any, where: tuple[Part, ...]) -> tuple[str, ...]:
    parts = tuple(path.split("."))
    if not all(parts):
        raise invalid([bad_input(body_path(where), f"{path!r} is not a dotted path", "path")])
    node = doc
    for i, part in enumerate(parts[:-1]):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            at = ".".join(parts[: i + 1])
            message = f"{at} is not an object in this cell's spec"
            raise invalid([bad_input(body_path(where), message, "path")])
    node[parts[-1]] = copy.deepcopy(value)
    return parts


def _label(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _grid_cells(body: StudyCreate, cap: int) -> list[Cell]:
    grid = body.grid or {}
    count = math.prod(len(v) for v in grid.values())
    if count > cap:
        message = f"{count} cells; at most {cap} (GRADPROBE_MAX_STUDY_CELLS)"
        raise invalid([bad_input("$.grid", message, "cap_exceeded")])
    cells = []
    for combo in itertools.product(*(list(enumerate(v)) for v in grid.values())):
        spec = copy.deepcopy(body.base)
        cell = Cell("", spec, ("base",))
        for path, (k, value) in zip(grid, combo, strict=True):
            where = ("grid", path, k)
            cell.overrides[_set(spec, path, value, where)] = where
            cell.record.setdefault("overrides", {})[path] = value
        cell.name = ",".join(
            f"{p}={_label(v)}" for p, v in cell.record.get("overrides", {}).items()
        )
        cells.append(cell)
    return cells


def _variant_cells(body: StudyCreate, cap: int) -> list[Cell]:
    variants = body.variants or []
    if len(variants) > cap:
        message = f"{len(variants)} cells; at most {cap} (GRADPROBE_MAX_STUDY_CELLS)"
        raise invalid([bad_input("$.variants", message, "cap_exceeded")])
    names = [v.name for v in variants]
    cells = []
    for i, v in enumerate(variants):
        if v.name in names[:i]:
            raise invalid([bad_input(f"$.variants[{i}].name", "a name used twice", "duplicate")])
        if v.compare_with is not None and v.compare_with not in names:
            raise invalid(
                [bad_input(f"$.variants[{i}].compare_with", "not a variant's name", "unknown")]
            )
        spec = copy.deepcopy(body.base if v.spec is None else v.spec)
        origin: tuple[Part, ...] = ("base",) if v.spec is None else ("variants", i, "spec")
        cell = Cell(v.name, spec, origin)
        for path, value in v.overrides.items():
            where = ("variants", i, "overrides", path)
            cell.overrides[_set(spec, path, value, where)] = where
        extra = v.model_dump(include={"remedy", "compare_with", "overrides", "spec"})
        cell.record = {k: x for k, x in extra.items() if x not in (None, {})}
        cells.append(cell)
    return cells


def expand(body: StudyCreate, cap: int) -> list[Cell]:
    cells = _grid_cells(body, cap) if body.grid is not None else _variant_cells(body, cap)
    for cell in cells:
        if len(cell.name) > NAME_MAX:
            message = f"a cell name over {NAME_MAX} characters: {cell.name[:40]}..."
            raise invalid([bad_input("$.grid", message, "string_too_long")])
        cell.record = {"name": cell.name, **cell.record}
    return cells


def _located(cell: Cell, error: ErrorDetail) -> ProblemError:
    loc = error.loc
    where: tuple[Part, ...] = (*cell.origin, *loc)
    matches = [p for p in cell.overrides if loc[: len(p)] == p]
    if matches:
        longest = max(matches, key=len)
        where = (*cell.overrides[longest], *loc[len(longest) :])
    found = bad_input(body_path(where), f"in cell {cell.name!r}: {error.message}", error.type)
    return ProblemError.model_validate(
        {**found.model_dump(), "cell": cell.name, "spec_path": error.path}
    )


def plan_cells(cells: list[Cell], caps: Caps) -> list[JobSpec]:
    """Every cell's spec, checked like a job's; all the cells' errors at once, or the specs."""
    specs: list[JobSpec] = []
    errors: list[ProblemError] = []
    for cell in cells:
        try:
            specs.append(plan_posted(cell.spec, caps).spec)
        except SpecError as exc:
            errors += [_located(cell, e) for e in exc.errors]
    if errors:
        raise invalid(errors, "a cell of the study is not a valid spec", "invalid-spec")
    return specs
