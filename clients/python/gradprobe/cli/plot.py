"""`plot`: a picture of a job's statistics, drawn by the server or here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, cast

import typer

from gradprobe.cli.errors import USAGE, CliError, handled
from gradprobe.cli.options import ApiKey, AsJson, JobId, Url
from gradprobe.cli.output import emit
from gradprobe.cli.session import connect
from gradprobe.result import Result

NAMES = ("grad_flow", "profile", "timesteps", "loss", "units")
MEDIA = {"png": "image/png", "svg": "image/svg+xml"}


def target(job_id: str, name: str, output: Path | None) -> tuple[Path, Literal["png", "svg"]]:
    """Where to write, and in which format (from the file's suffix; PNG by default)."""
    path = output or Path(f"{job_id}-{name}.png")
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in MEDIA:
        raise CliError(f"cannot write {path}: name a .png or .svg file", USAGE)
    return path, cast(Literal["png", "svg"], fmt)


@handled
def plot(
    job_id: JobId,
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(NAMES)}.")],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="A .png or .svg file [default: JOB-NAME.png]."),
    ] = None,
    local: Annotated[
        bool, typer.Option("--local", help="Draw here from the statistics (needs matplotlib).")
    ] = False,
    url: Url = None,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Save a plot: grad_flow (layer x step heatmap), profile (per-layer norms), timesteps
    (RNN ||dL/dh_t||), loss, units (saturated and dead fractions)."""
    if name not in NAMES:
        raise CliError(f"no plot {name!r}: choose one of {', '.join(NAMES)}", USAGE)
    path, fmt = target(job_id, name, output)
    with connect(url, api_key) as client:
        if local:
            picture = _draw(client.jobs.stats(job_id), name, fmt)
        else:
            picture = client.jobs.plot(job_id, name, fmt)
    try:
        path.write_bytes(picture)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}", USAGE) from None
    done = {"job_id": job_id, "plot": name, "path": str(path), "bytes": len(picture)}
    emit(done, as_json, lambda c: c.print(f"wrote {path} ({len(picture):,} bytes)"))


def _draw(result: Result, name: str, fmt: Literal["png", "svg"]) -> bytes:
    from gradprobe import plots

    try:
        return plots.render(result, name, fmt)
    except ImportError as exc:  # matplotlib is imported as a plot is drawn
        raise CliError(
            f"--local needs matplotlib: pip install 'gradprobe[plots]' ({exc})"
        ) from None
