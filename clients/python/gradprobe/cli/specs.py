"""`validate` (the dry run of a spec) and `presets` (named specs and studies)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gradprobe.api import PlanView, PresetList
from gradprobe.cli.errors import handled
from gradprobe.cli.options import ApiKey, AsJson, SpecFile, Url
from gradprobe.cli.output import emit, size
from gradprobe.cli.session import connect
from gradprobe.cli.specfile import read_json


def plan_table(plan: PlanView) -> Table:
    table = Table(title=f"{len(plan.layers)} layers", title_justify="left")
    for column in ("layer", "op", "inputs", "shape", "params", "FLOPs"):
        table.add_column(column, justify="right" if column in ("params", "FLOPs") else "left")
    for la in plan.layers:
        shape = "x".join(str(d) for d in la.shape)
        table.add_row(
            la.name, la.op, ", ".join(la.inputs), shape, f"{la.params:,}", f"{la.flops:,}"
        )
    return table


def _show_plan(console: Console, plan: PlanView) -> None:
    console.print(plan_table(plan))
    console.print(
        f"[green]valid[/]: {plan.params:,} parameters, {plan.flops:,} forward FLOPs per "
        f"example, {size(plan.activation_bytes)} of activations per batch; "
        f"output {plan.output}"
    )


@handled
def validate(
    spec: SpecFile, url: Url = None, api_key: ApiKey = None, as_json: AsJson = False
) -> None:
    """Check a spec without running it: the expanded layers, parameters, FLOPs and memory,
    or each error with its JSON path (exit 1)."""
    body = read_json(spec)
    with connect(url, api_key) as client:
        plan = client.specs.validate(body)
    emit(plan, as_json, lambda c: _show_plan(c, plan))


def presets_table(presets: PresetList) -> Table:
    table = Table(title="presets", title_justify="left")
    for column in ("name", "kind", "title", "cells"):
        table.add_column(column)
    for p in presets.items:
        if p.kind == "study":
            cells = (
                f"{len(p.variants)} variants"
                if p.variants
                else f"grid over {', '.join(p.grid or {})}"
            )
        else:
            cells = ""
        table.add_row(p.name, p.kind, escape(p.title), cells)
    return table


@handled
def presets(url: Url = None, api_key: ApiKey = None, as_json: AsJson = False) -> None:
    """Named specs (submit them) and ready studies (`gradprobe study run NAME`)."""
    with connect(url, api_key) as client:
        found = client.presets.list()
    emit(found.items, as_json, lambda c: c.print(presets_table(found)))
