"""`study run` (a preset by name, or a study file) and `study show`: the comparison table of
a study's cells, and its comparison plot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from gradprobe.api import StudyCreate, StudyView
from gradprobe.cli.compare import Row, compare_table
from gradprobe.cli.errors import INTERRUPTED, USAGE, CliError, handled
from gradprobe.cli.follow import follow_study
from gradprobe.cli.options import ApiKey, AsJson, Timeout, Url
from gradprobe.cli.output import emit, status
from gradprobe.cli.plot import target
from gradprobe.cli.progress import Bar
from gradprobe.cli.session import connect
from gradprobe.cli.specfile import read_json
from gradprobe.client import Client, Conflict

Output = Annotated[
    Path | None, typer.Option("-o", "--output", help="Write the comparison plot (.png or .svg).")
]


def study_body(client: Client, name: str) -> dict[str, Any]:
    """A study file's document, or the study preset of that name (only the fields a
    submission takes)."""
    if Path(name).exists() or name.endswith(".json") or name == "-":
        return read_json(name, "study")
    studies = [p for p in client.presets.list().items if p.kind == "study"]
    for preset in studies:
        if preset.name == name:
            known = preset.model_dump(mode="json", exclude_none=True, include=_FIELDS)
            return dict(known)
    names = ", ".join(p.name for p in studies) or "none"
    raise CliError(f"no study file or study preset named {name!r}; presets: {names}", USAGE)


_FIELDS: Any = set(StudyCreate.model_fields)


def rows(view: StudyView) -> list[Row]:
    """One row per cell, in cell order: the server's table row once the cell has a result."""
    done = {row.job_id: row.model_dump(mode="json") for row in view.table}
    out = []
    for cell in view.cells:
        empty: Row = {"verdict": None, "decay": None, "step_ms": None}
        empty.update(dict.fromkeys(("grad_ratio_first_last", "loss_drop", "final_accuracy")))
        row = done.get(cell.job_id, {**empty, "variant": cell.variant, "job_id": cell.job_id})
        out.append({**row, "status": cell.status})
    return out


def _show(console: Console, view: StudyView) -> None:
    title = f"study {view.id}" + (f" ({escape(view.name)})" if view.name else "")
    console.print(compare_table(rows(view), f"{title}: {status(view.status)}"))


def _write_plot(client: Client, view: StudyView, output: Path, as_json: bool) -> None:
    path, fmt = target(view.id, "compare", output)
    try:
        picture = client.studies.plot(view.id, fmt)
    except Conflict:
        raise CliError(f"no cell of study {view.id} has a result: no plot written") from None
    path.write_bytes(picture)
    if not as_json:
        Console(stderr=True).print(f"wrote {path}")


@handled
def run(
    study: Annotated[str, typer.Argument(help="A study preset's name, or a study JSON file.")],
    wait: Annotated[bool, typer.Option("--wait", help="Follow every cell until it ends.")] = False,
    output: Output = None,
    name: Annotated[str | None, typer.Option("--name", help="Name the study.")] = None,
    timeout: Timeout = 3600.0,
    url: Url = None,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Submit a study (one job per cell); with --wait, follow it and print the comparison
    table (and write the plot with -o)."""
    if output is not None and not wait:
        raise CliError("-o needs --wait: the plot is drawn from finished cells", USAGE)
    with connect(url, api_key) as client:
        body = study_body(client, study)
        if name is not None:
            body["name"] = name
        view = client.studies.create(body)
        if not wait:
            emit(view, as_json, lambda c: _show(c, view))
            return
        try:
            with Bar(view.id) as bar:
                view = follow_study(client, view, bar, timeout)
        except KeyboardInterrupt:
            follow = f"gradprobe study show {view.id}"
            raise CliError(
                f"stopped waiting; study {view.id} goes on ({follow})", INTERRUPTED
            ) from None
        emit(view, as_json, lambda c: _show(c, view))
        if output is not None:
            _write_plot(client, view, output, as_json)
    if view.status != "succeeded":
        raise CliError(f"study {view.id} ended {view.status}", after_output=True, study_id=view.id)


@handled
def show(
    study_id: Annotated[str, typer.Argument(help="A study id.")],
    output: Output = None,
    url: Url = None,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """A study's cells and its comparison table (and its plot with -o)."""
    with connect(url, api_key) as client:
        view = client.studies.get(study_id)
        emit(view, as_json, lambda c: _show(c, view))
        if output is not None:
            _write_plot(client, view, output, as_json)


@handled
def cancel(
    study_id: Annotated[str, typer.Argument(help="A study id.")],
    url: Url = None,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Cancel every cell of a study that has not ended."""
    with connect(url, api_key) as client:
        view = client.studies.cancel(study_id)
    emit(view, as_json, lambda c: _show(c, view))
