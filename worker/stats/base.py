"""What every statistic builds on: the layer table, the per-probe buffer, the base class.

A statistic is one small class with a stable `name` (a key of the result document). It
reacts to three moments of a probed step: a node's output in the forward pass
(`on_output`), the raw gradients after backward (`after_backward`), and the parameters
after the optimizer step (`after_step`). It never syncs with the host: it `put`s tensors
into the Probe, and the recorder copies everything out once per probe.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import Tensor, nn

Kind = Literal["layer", "timestep", "histogram", "scalar"]


@dataclass
class ParamGroup:
    """One family of parameter tensors (all weights, or all biases) with their owners."""

    tensors: list[Tensor]
    owner: Tensor  # (n_tensors,) long: index into `layers` (below) of each tensor's layer
    layers: list[int]  # layer indices (into the table) that have such parameters
    numel: Tensor  # (len(layers),) float64: elements per layer

    def per_layer(self, values: Tensor) -> Tensor:
        """Sum per-tensor values (n_tensors,) into per-layer values (len(layers),)."""
        out = torch.zeros(len(self.layers), dtype=values.dtype, device=values.device)
        return out.index_add_(0, self.owner, values)


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


def _group(params: list[tuple[int, Tensor]], device: torch.device) -> ParamGroup:
    layers = sorted({i for i, _ in params})
    slot = {layer: k for k, layer in enumerate(layers)}
    owner = torch.tensor([slot[i] for i, _ in params], dtype=torch.long, device=device)
    numel = torch.zeros(len(layers), dtype=torch.float64)
    for i, p in params:
        numel[slot[i]] += p.numel()
    return ParamGroup([p for _, p in params], owner, layers, numel.to(device))


def layer_table(
    names: list[str],
    ops: list[str],
    activations: list[str | None],
    modules: Sequence[nn.Module],
    device: torch.device,
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
    )


@dataclass
class StepContext:
    loss: Tensor
    output: Tensor
    target: Tensor
    target_kind: str
    optimizer: torch.optim.Optimizer | None = None


@dataclass
class Probe:
    """The values one probed step produced, still on the device. An entry is (statistic,
    layers, values): one value per layer for per-layer statistics, or one layer and a
    vector for per-layer vectors (time steps, histogram bins). Single values put one layer
    at a time are gathered per statistic and stacked once, at the end."""

    step: int
    scratch: dict[str, Any] = field(default_factory=dict)  # per-probe memo shared by stats
    _entries: list[tuple[str, list[int], Tensor]] = field(default_factory=list)
    _singles: dict[str, tuple[list[int], list[Tensor]]] = field(default_factory=dict)

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """A value several statistics need (e.g. the weight norms), computed once per probe."""
        if key not in self.scratch:
            self.scratch[key] = compute()
        return self.scratch[key]

    def put(self, name: str, layer: int, value: Tensor) -> None:
        if value.numel() == 1:
            layers, values = self._singles.setdefault(name, ([], []))
            layers.append(layer)
            values.append(value.detach().reshape(()))
        else:
            self._entries.append((name, [layer], value.detach().reshape(-1)))

    def put_many(self, name: str, layers: Sequence[int], values: Tensor) -> None:
        self._entries.append((name, list(layers), values.detach().reshape(-1)))

    @property
    def entries(self) -> list[tuple[str, list[int], Tensor]]:
        singles = [(n, layers, torch.stack(vs)) for n, (layers, vs) in self._singles.items()]
        return self._entries + singles


class Statistic:
    name: ClassVar[str]
    kind: ClassVar[Kind] = "layer"
    forward: ClassVar[bool] = False  # needs node outputs (an activation statistic)

    def bind(self, table: LayerTable) -> None:
        self.table = table

    def applies(self, layer: int) -> bool:
        """Whether the statistic has a value for `layer` (otherwise null in the result)."""
        return True

    def on_output(self, probe: Probe, layer: int, out: Tensor) -> None: ...

    def after_backward(self, probe: Probe, ctx: StepContext) -> None: ...

    def after_step(self, probe: Probe, ctx: StepContext, updated: bool) -> None: ...


def grads_or_zeros(tensors: list[Tensor]) -> list[Tensor]:
    """Gradients of `tensors`; an unused parameter (grad None) counts as zero."""
    return [p.grad if p.grad is not None else torch.zeros_like(p) for p in tensors]


# With gradual underflow each float32 square is off by at most 2^-150, so a float32 norm of n
# elements is good to ~1e-7 when norm^2 >= n * 2^-126; below that, recheck.
def _tiny_norm(numel: int) -> float:
    return math.sqrt(numel) * 2.0**-63


def norms(tensors: list[Tensor], ord: float = 2.0) -> Tensor:
    """Per-tensor norms as float64, exact for tiny gradients: a 50-layer sigmoid net has
    gradients of 1e-30, whose float32 squares underflow to 0.

    float64 inputs, and L1 norms (no squares), are computed directly. For L2 on the CPU,
    float32 norms (fast) are recomputed in float64 only where they come out tiny (reading
    them on the host costs nothing there). On an accelerator each tensor is scaled by a power
    of two (exact) that brings its largest element near 1, then normed: no host sync."""
    if not tensors:
        return torch.zeros(0, dtype=torch.float64)
    if ord != 2.0 or all(t.dtype == torch.float64 for t in tensors):
        return torch.stack(torch._foreach_norm(tensors, ord)).double()
    if tensors[0].device.type == "cpu":
        return _norms_rechecked(tensors)
    return _norms_scaled(tensors)


def _norms_rechecked(tensors: list[Tensor]) -> Tensor:
    fast = torch.stack(torch._foreach_norm(tensors)).double()
    values = fast.numpy()  # a CPU tensor's own memory: no copy
    limits = np.array([_tiny_norm(t.numel()) for t in tensors])
    tiny = np.flatnonzero(values < limits)
    if tiny.size:
        # Scale each tiny tensor by a power of two (exact) that brings its norm near 1; a norm
        # of 0 means every square underflowed (all |x| < 2^-75), so 2^100 is safe and enough.
        exps = [
            100 if values[k] == 0 else min(126, -math.floor(math.log2(values[k]))) for k in tiny
        ]
        scaled = torch._foreach_mul([tensors[k] for k in tiny], [2.0**e for e in exps])
        again = torch.stack(torch._foreach_norm(scaled)).double()
        fast[torch.from_numpy(tiny)] = again * torch.tensor(
            [2.0**-e for e in exps], dtype=torch.float64
        )
    return fast


def _norms_scaled(tensors: list[Tensor]) -> Tensor:
    largest = torch.stack(torch._foreach_norm(tensors, math.inf)).double()
    exponent = torch.floor(torch.log2(largest)).clamp(-126, 126)  # 2^e stays a float32 normal
    scale = torch.where(largest > 0, torch.exp2(-exponent), torch.ones_like(largest))
    scaled = torch._foreach_mul(tensors, list(scale.float().unbind()))
    return torch.stack(torch._foreach_norm(scaled)).double() / scale
