"""Where output goes: tables and summaries on standard output (rich), progress and errors on
standard error, and `--json` documents as plain JSON on standard output."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console

COLOURS = {"healthy": "green", "vanishing": "red", "exploding": "red", "diverged": "red"}
STATUS_COLOURS = {"succeeded": "green", "failed": "red", "cancelled": "yellow"}
BAR_WIDTH = 24


PIPE_WIDTH = 200  # when the output is not a terminal: wide enough that no table is cut


def console() -> Console:
    out = Console(highlight=False)
    if not out.is_terminal:
        out = Console(highlight=False, width=PIPE_WIDTH)
    return out


def jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def emit(data: Any, as_json: bool, show: Callable[[Console], None]) -> None:
    """`data` as JSON with --json, else `show(console)`."""
    if as_json:
        typer.echo(json.dumps(jsonable(data), indent=2))
    else:
        show(console())


def num(value: float | None) -> str:
    """A statistic in 3 significant digits, or a dash where there is none."""
    if value is None:
        return "—"
    return f"{value:.3g}" if math.isfinite(value) else str(value)


def size(n: float) -> str:
    """Bytes for people: 87040 -> '85.0 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def verdict(value: str | None) -> str:
    if value is None:
        return "—"
    return f"[bold {COLOURS.get(value, 'yellow')}]{value}[/]"


def status(value: str) -> str:
    return f"[{STATUS_COLOURS.get(value, 'cyan')}]{value}[/]"


def log_bar(value: float | None, low: float, high: float, width: int = BAR_WIDTH) -> str:
    """A bar whose length is log10(value) between log10(low) and log10(high): the gradient
    flow profile at a glance (as the server's one-screen summary draws it)."""
    if value is None or value <= 0 or not math.isfinite(value):
        return ""
    span = max(math.log10(high) - math.log10(low), 1e-12)
    filled = round(width * (math.log10(value) - math.log10(low)) / span)
    return "█" * min(max(filled, 1), width)


def bounds(values: list[float | None]) -> tuple[float, float]:
    """The (low, high) of the positive finite values, low a little under the minimum so the
    smallest still shows a bar; (1, 10) when there are none."""
    shown = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    return (min(shown) / 1.5, max(shown)) if shown else (1.0, 10.0)
