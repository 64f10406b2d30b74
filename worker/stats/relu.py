"""A ReLU's output read through its input. y = max(z, 0) element by element, and exactly so
in floating point, so one compiled pass over z gives z's sums, y's sums and y's dead units
(worker.stats.kernels.relu_sums): on the host paths y itself is never read. In a ReLU net
that halves the memory the forward statistics read, and their calls."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from torch import Tensor, nn

from worker.stats.base import Probe
from worker.stats.kernels import relu_sums, relu_sums_at
from worker.stats.norms import is_block

Sums = tuple[float, float, float, int]  # as moments.from_sums takes them: shift, sum d, sum d^2, n


@dataclass
class Reading:
    z: Sums  # the input's
    y: Sums  # the ReLU's output's
    dead: int  # units of the output at most 0 for every example
    units: int


def relu_inputs(nodes: Iterable[nn.Module], sources: list[list[int]]) -> dict[int, int]:
    """Each ReLU node and the node it takes (a ReLU of the data is read as any output, and
    an in-place one, which overwrites its input, is not paired)."""
    return {
        k: inputs[0]
        for k, (node, inputs) in enumerate(zip(nodes, sources, strict=True))
        if isinstance(node, nn.ReLU) and not node.inplace and len(inputs) == 1 and inputs[0] >= 0
    }


def pair_input(probe: Probe, layer: int) -> int | None:
    """The input of the ReLU pair `layer` is read with: itself where a ReLU takes it, the
    node it takes where it is a ReLU, else None."""
    return layer if layer in probe.relu_of else probe.relu_inputs.get(layer)


def reading(probe: Probe, source: int | None) -> Reading | None:
    """The pass over node `source`'s output for it and its ReLU, made once per probe; None
    where there is no such node or its output is not in host memory (or is empty)."""
    if source is None:
        return None
    readings: dict[int, Reading | None] = probe.scratch.setdefault("relu/readings", {})
    if source not in readings:
        readings[source] = _read(probe, probe.outs[source])
    return readings[source]


def _read(probe: Probe, z: Tensor) -> Reading | None:
    """One pass over z: by address where z is a float32 block (no NumPy view to make)."""
    n = z.numel()
    if not n:
        return None
    batch = z.shape[0]  # (len() of a tensor is a slower Python-level call)
    units = n // batch
    if is_block(z):
        sums = relu_sums_at(z.data_ptr(), batch, units)
    else:
        rows = probe.host_array(z)
        if rows is None:
            return None
        sums = relu_sums(rows)
    z_shift, z_total, z_squares, y_shift, y_total, y_squares, dead = sums
    return Reading((z_shift, z_total, z_squares, n), (y_shift, y_total, y_squares, n), dead, units)
