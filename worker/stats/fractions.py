"""Counting units per layer in the forward pass and turning the counts into fractions for all
layers at once after backward.

On the CPU the output is read in place with NumPy (no torch op: these tensors are small,
and torch would hand each op to its thread pool); on an accelerator the same expressions
run as device ops and nothing is read on the host."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from worker.stats.base import Probe, column
from worker.stats.moments import ones

Values = Tensor | np.ndarray


def values(probe: Probe, out: Tensor) -> Values:
    """The output itself, or on the CPU a NumPy view of its memory."""
    a = probe.host_array(out)
    return out.detach() if a is None else a


def unit_sums(a: np.ndarray) -> np.ndarray:
    """Per unit, the sum of its outputs over the batch: one BLAS matrix-vector product."""
    rows = a.reshape(a.shape[0], -1)
    return ones(rows.shape[0], rows.dtype) @ rows


def count(probe: Probe, name: str, layer: int, hits: Values) -> None:
    """Record how many elements of the boolean `hits` are set, out of how many."""
    counts: dict[int, tuple[Tensor | float, int]] = probe.scratch.setdefault(f"count/{name}", {})
    if isinstance(hits, Tensor):
        counts[layer] = (torch.count_nonzero(hits), hits.numel())
    else:
        counts[layer] = (float(np.add.reduce(hits, axis=None)), hits.size)


def put_fractions(probe: Probe, name: str) -> None:
    counts: dict[int, tuple[Tensor | float, int]] = probe.scratch.pop(f"count/{name}", {})
    if not counts:
        return
    layers = sorted(counts)
    hits = column([counts[j][0] for j in layers])
    totals = torch.tensor([counts[j][1] for j in layers], dtype=torch.float64)
    probe.put_many(name, layers, hits / totals.to(hits.device))
