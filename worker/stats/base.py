"""What every statistic builds on: the layer table, the per-probe buffer, the base class.

A statistic is one small class with a stable `name` (a key of the result document). It
reacts to three moments of a probed step: a node's output, once the forward pass is done
(`on_output`, only for the layers it `observes`), the raw gradients after backward
(`after_backward`), and the parameters after the optimizer step (`after_step`). It never
syncs with the host: it `put`s values into the Probe, and the recorder copies everything out
once per probe.

Per-layer values are a `Vector`: on the CPU's host paths a float64 NumPy array (a small
NumPy op costs a fraction of a torch op, and a probe does dozens), on an accelerator a
tensor on the device. The arithmetic the statistics do on them (+ - * /, ** 0.5, .clip)
is written once for both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import Tensor, nn

from worker.stats.norms import Vector, is_host, on_host

Kind = Literal["layer", "timestep", "histogram", "scalar"]


@dataclass
class ParamGroup:
    """One family of parameter tensors (all weights, or all biases) with their owners."""

    tensors: list[Tensor]
    owner: Vector  # (n_tensors,) integer: index into `layers` (below) of each tensor's layer
    layers: list[int]  # layer indices (into the table) that have such parameters
    numel: Vector  # (len(layers),) float64: elements per layer
    members: dict[int, list[int]] = field(default_factory=dict)  # layer -> its tensors' indices
    host: bool = False  # the host paths take these tensors (and their gradients, their state)
    one_each: bool = False  # every layer has exactly one tensor (owner is 0, 1, 2, ...)

    def per_layer(self, values: Vector) -> Vector:
        """Sum per-tensor values (n_tensors,) into per-layer values (len(layers),)."""
        if self.one_each:
            return values
        if isinstance(values, np.ndarray):
            return np.bincount(self.owner, weights=values, minlength=len(self.layers))
        out = torch.zeros(len(self.layers), dtype=values.dtype, device=values.device)
        return out.index_add_(0, torch.as_tensor(self.owner), values)


@dataclass
class LayerTable:
    """Static facts about the network, built once per run."""

    names: list[str]
    ops: list[str]
    activations: list[str | None]
    modules: list[nn.Module]
    weights: ParamGroup
    biases: ParamGroup
    device: torch.device
    sources: list[list[int]]  # each layer's inputs (-1: the data)
    output: int  # the layer whose output is the network's

    def consumers(self, layer: int) -> list[int]:
        """The layers that take this layer's output as an input."""
        return [k for k, inputs in enumerate(self.sources) if layer in inputs]


def _group(params: list[tuple[int, Tensor]], device: torch.device) -> ParamGroup:
    layers = sorted({i for i, _ in params})
    slot = {layer: k for k, layer in enumerate(layers)}
    owner = [slot[i] for i, _ in params]
    numel = [0.0] * len(layers)
    members: dict[int, list[int]] = {}
    for k, (i, p) in enumerate(params):
        numel[slot[i]] += p.numel()
        members.setdefault(i, []).append(k)
    tensors = [p for _, p in params]
    host = on_host(tensors)
    return ParamGroup(
        tensors,
        np.array(owner, dtype=np.int64) if host else torch.tensor(owner, device=device),
        layers,
        vector(numel, None if host else device),
        members,
        host,
        owner == list(range(len(layers))),
    )


def layer_table(
    names: list[str],
    ops: list[str],
    activations: list[str | None],
    modules: Sequence[nn.Module],
    device: torch.device,
    sources: list[list[int]],
    output: int,
) -> LayerTable:
    """Split every layer's parameters into weights (matrices, norm scales, embeddings) and
    biases (any parameter whose name ends in 'bias' or holds 'bias_')."""
    weights: list[tuple[int, Tensor]] = []
    biases: list[tuple[int, Tensor]] = []
    for i, module in enumerate(modules):
        for pname, p in module.named_parameters():
            is_bias = pname.endswith("bias") or "bias_" in pname
            (biases if is_bias else weights).append((i, p))
    return LayerTable(
        names,
        ops,
        activations,
        list(modules),
        _group(weights, device),
        _group(biases, device),
        device,
        sources,
        output,
    )


@dataclass
class StepContext:
    loss: Tensor
    output: Tensor
    target: Tensor
    target_kind: str
    optimizer: torch.optim.Optimizer | None = None
    loss_scaling: bool = False  # fp16 GradScaler: a step may be skipped


@dataclass
class Probe:
    """The values one probed step produced, still on the device (or in host memory, on the
    host paths). An entry is (statistic, layers, values): one value per layer for per-layer
    statistics, one layer and a vector for per-layer vectors (time steps, histogram bins),
    layer -1 and one value for a scalar."""

    step: int
    relu_inputs: dict[int, int] = field(default_factory=dict)  # ReLU layer -> its input layer
    relu_of: dict[int, int] = field(default_factory=dict)  # input layer -> a ReLU of it
    outs: list[Tensor] = field(default_factory=list)  # node outputs, once the forward is done
    scratch: dict[str, Any] = field(default_factory=dict)  # per-probe memo shared by stats
    entries: list[tuple[str, list[int], Vector]] = field(default_factory=list)
    _viewed: Tensor | None = None  # the node output `host_array` last looked at
    _view: np.ndarray | None = None

    def host_array(self, out: Tensor) -> np.ndarray | None:
        """Where the host paths take a node output (a float32 or float64 CPU tensor), its
        values as a contiguous (batch, units) NumPy array: its own memory, unless it is not
        contiguous. Else None. Made once per node for all the statistics that read it; a
        unit is everything but the batch axis (one channel-position, one time step's
        feature)."""
        if out is not self._viewed:
            x = out.detach()
            rows = np.ascontiguousarray(x.numpy()).reshape(x.shape[0], -1) if is_host(x) else None
            self._viewed, self._view = out, rows
        return self._view

    def forget_view(self) -> None:
        """Drop the output `host_array` last looked at (kept alive, it could not be freed)."""
        self._viewed = self._view = None

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """A value several statistics need (e.g. the weight norms), computed once per probe."""
        if key not in self.scratch:
            self.scratch[key] = compute()
        return self.scratch[key]

    def put(self, name: str, layer: int, value: Vector) -> None:
        self.put_many(name, [layer], value)

    def put_many(self, name: str, layers: Sequence[int], values: Vector) -> None:
        flat = values.reshape(-1) if isinstance(values, np.ndarray) else values.detach().reshape(-1)
        self.entries.append((name, list(layers), flat))


class Statistic:
    """A layer has a value only where the statistic puts one; everywhere else it is null."""

    name: ClassVar[str]
    kind: ClassVar[Kind] = "layer"
    forward: ClassVar[bool] = False  # needs node outputs (an activation statistic)

    def bind(self, table: LayerTable) -> None:
        self.table = table

    def observes(self, layer: int) -> bool:
        """Whether `on_output` does anything for this layer (asked once per run, after
        `bind`: the recorder only calls a statistic for the layers it observes)."""
        return self.forward

    def on_output(self, probe: Probe, layer: int, out: Tensor) -> None: ...

    def after_backward(self, probe: Probe, ctx: StepContext) -> None: ...

    def after_step(self, probe: Probe, ctx: StepContext, updated: bool) -> None: ...


def column(values: Sequence[Tensor | float]) -> Vector:
    """One float64 vector of per-layer values: host numbers (what the CPU paths produce) in
    a NumPy array, or 0-dim tensors (on an accelerator) stacked on the device."""
    if not values or not isinstance(values[0], Tensor):  # a run's values are all one kind
        return np.array(values, dtype=np.float64)
    return torch.stack([torch.as_tensor(v) for v in values]).double()


def vector(values: Sequence[float], device: torch.device | None) -> Vector:
    """Numbers known on the host as a float64 Vector: NumPy for the host paths (device None),
    else a tensor on `device`."""
    if device is None:
        return np.array(values, dtype=np.float64)
    return torch.tensor(values, dtype=torch.float64, device=device)


def device_of(v: Vector) -> torch.device | None:
    """Where a Vector lives, as `vector` takes it: None for NumPy."""
    return None if isinstance(v, np.ndarray) else v.device


def grads_or_zeros(tensors: list[Tensor]) -> list[Tensor]:
    """Gradients of `tensors`; an unused parameter (grad None) counts as zero."""
    return [g if (g := p.grad) is not None else torch.zeros_like(p) for p in tensors]
