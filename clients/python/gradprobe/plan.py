"""From a posted document to a checked plan: parse, expand, order, infer shapes, apply caps.

`parse_spec` and `make_plan` are what the API's validate route, the worker and the local
command call; every problem surfaces as a SpecError naming the JSON path of the field.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from gradprobe.datashapes import DataShape, data_shape
from gradprobe.errors import ErrorDetail, Loc, SpecError
from gradprobe.expand import expand
from gradprobe.graph import Graph
from gradprobe.shapes import Shape, ShapeError, infer
from gradprobe.spec import Caps, JobSpec
from gradprobe.spec.common import InitSpec
from gradprobe.spec.graph import TRUNK_OPS, PrimitiveNode

_TAGS = ("type", "op", "name")  # discriminator fields of the spec's unions
BYTES = {"fp64": 8, "fp32": 4, "bf16": 4, "fp16": 4}  # autocast keeps fp32 master activations


def _clean_loc(raw: Any, loc: tuple[Any, ...], error_type: str) -> Loc:
    """Drop the union tags pydantic inserts into a location (('model', 'mlp', 'depth') ->
    ('model', 'depth')) by walking the raw document alongside it."""
    out: list[str | int] = []
    node = raw
    for part in loc:
        is_tag = isinstance(node, dict) and isinstance(part, str) and part not in node
        if is_tag and any(node.get(tag) == part for tag in _TAGS):
            continue
        out.append(part)
        node = (
            node.get(part)
            if isinstance(node, dict)
            else (
                node[part]
                if isinstance(node, list) and isinstance(part, int) and part < len(node)
                else None
            )
        )
    if error_type in ("union_tag_invalid", "union_tag_not_found") and isinstance(node, dict):
        out.append(next((t for t in _TAGS if t in node), "type"))
    return tuple(out)


def parse_spec(raw: Any) -> JobSpec:
    """Validate a posted document into a JobSpec (every default filled in)."""
    try:
        return JobSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(
            [
                ErrorDetail(_clean_loc(raw, e["loc"], e["type"]), e["msg"], e["type"])
                for e in exc.errors()
            ]
        ) from None


@dataclass(frozen=True)
class PlannedLayer:
    name: str
    op: str
    inputs: tuple[str, ...]
    shape: Shape
    params: int
    flops: int
    node: PrimitiveNode

    @property
    def trunk(self) -> bool:
        return self.op in TRUNK_OPS


@dataclass(frozen=True)
class Plan:
    """A spec ready to build: layers in depth order (input side first) with their shapes."""

    spec: JobSpec
    data: DataShape
    layers: list[PlannedLayer]
    output: str
    init: InitSpec
    params: int
    flops: int  # forward FLOPs per example
    activation_bytes: int  # estimated activations kept for backward, whole batch


def _dependencies(g: Graph) -> list[set[int]]:
    """For each node, the positions of the nodes it reads; rejects duplicate names and
    references to nodes that do not exist."""
    index: dict[str, int] = {}
    for i, node in enumerate(g.nodes):
        if node.name in index or node.name == "input":
            loc = (*g.origins[node.name], "name")
            raise SpecError.at(loc, f"node name {node.name!r} is used twice or reserved")
        index[node.name] = i
    deps: list[set[int]] = []
    for node in g.nodes:
        refs = node.inputs or []
        for k, ref in enumerate(refs):
            if ref != "input" and ref not in index:
                raise SpecError.at((*g.origins[node.name], "inputs", k), f"unknown input {ref!r}")
        deps.append({index[r] for r in refs if r != "input"})
    return deps


def _order(g: Graph) -> list[PrimitiveNode]:
    """Topological order (Kahn) that keeps the written order wherever it can; rejects cycles."""
    deps = _dependencies(g)
    users: list[list[int]] = [[] for _ in g.nodes]
    for i, d in enumerate(deps):
        for j in d:
            users[j].append(i)
    waiting = [len(d) for d in deps]
    ready = [i for i, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users[i]:
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, u)
    if len(order) < len(g.nodes):
        stuck = next(g.nodes[i] for i, w in enumerate(waiting) if w > 0)
        loc = (*g.origins[stuck.name], "inputs")
        raise SpecError.at(loc, f"node {stuck.name!r} is part of a cycle")
    return [g.nodes[i] for i in order]


def _check_output(g: Graph, shapes: dict[str, Shape], data: DataShape) -> None:
    if g.output not in shapes:
        raise SpecError.at(("model", "output"), f"unknown output node {g.output!r}")
    out = shapes[g.output]
    want = data.target_shape
    if out != want:
        loc = g.origins.get(g.output, ("model",))
        raise SpecError.at(
            loc, f"the output {g.output!r} has shape {out}, the {data.target} target needs {want}"
        )


def _check_caps(spec: JobSpec, params: int, act_bytes: int, data: DataShape, caps: Caps) -> None:
    checks: list[tuple[bool, Loc, str]] = [
        (
            params > caps.max_parameters,
            ("model",),
            f"{params:,} parameters, over the cap of {caps.max_parameters:,}",
        ),
        (
            act_bytes > caps.max_activation_bytes,
            ("train", "batch_size"),
            f"about {act_bytes / 2**20:,.0f} MiB of activations,"
            f" over the cap of {caps.max_activation_bytes / 2**20:,.0f} MiB",
        ),
        (
            spec.train.steps > caps.max_steps,
            ("train", "steps"),
            f"{spec.train.steps} steps, over the cap of {caps.max_steps}",
        ),
        (
            len(data.input) == 2 and data.input[0] > caps.max_seq_len,
            ("data", "length"),
            f"sequence length {data.input[0]}, over the cap of {caps.max_seq_len}",
        ),
        (
            getattr(spec.data, "samples", 0) > caps.max_samples,
            ("data", "samples"),
            f"{getattr(spec.data, 'samples', 0)} samples, over the cap of {caps.max_samples}",
        ),
    ]
    errors = [ErrorDetail(loc, msg, "cap_exceeded") for bad, loc, msg in checks if bad]
    if errors:
        raise SpecError(errors)


def make_plan(spec: JobSpec, caps: Caps | None = None) -> Plan:
    """Expand, order and shape-check `spec`; raises SpecError naming the offending field."""
    caps = caps or Caps()
    data = data_shape(spec.data, spec.model.type, caps)
    g = expand(spec.model, data)
    if len(g.nodes) > caps.max_nodes:
        raise SpecError.at(("model",), f"{len(g.nodes)} nodes, over the cap of {caps.max_nodes}")
    shapes: dict[str, Shape] = {"input": data.input}
    layers: list[PlannedLayer] = []
    for node in _order(g):
        inputs = tuple(node.inputs or [])
        try:
            op = infer(node, [shapes[i] for i in inputs])
        except ShapeError as exc:
            loc = (*g.origins[node.name], exc.field) if g.user_written else g.origins[node.name]
            raise SpecError.at(loc, str(exc)) from None
        shapes[node.name] = op.shape
        layers.append(PlannedLayer(node.name, node.op, inputs, op.shape, op.params, op.flops, node))
    _check_output(g, shapes, data)
    params = sum(layer.params for layer in layers)
    elements = sum(math.prod(layer.shape) for layer in layers) + math.prod(data.input)
    act_bytes = elements * spec.train.batch_size * BYTES[spec.train.precision]
    _check_caps(spec, params, act_bytes, data, caps)
    return Plan(
        spec, data, layers, g.output, g.init, params, sum(la.flops for la in layers), act_bytes
    )


def plan_document(raw: Any, caps: Caps | None = None) -> Plan:
    """parse_spec + make_plan: the whole dry run for a posted document."""
    return make_plan(parse_spec(raw), caps)
