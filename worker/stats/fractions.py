"""Counting units per layer in the forward pass and turning the counts into fractions for all
layers at once after backward.

On the CPU the output is read in place by one compiled pass (worker.stats.kernels: no torch
op, these tensors are small and torch would hand each op to its thread pool); on an
accelerator the same tests run as device ops and nothing is read on the host."""

from __future__ import annotations

import torch
from torch import Tensor

from worker.stats.base import Probe, column, device_of, vector


def count(probe: Probe, name: str, layer: int, hits: Tensor | int, total: int) -> None:
    """Record that `hits` of `total` units or elements are counted: a number, or on an
    accelerator a boolean tensor that is counted on the device."""
    counts: dict[int, tuple[Tensor | float, int]] = probe.scratch.setdefault(f"count/{name}", {})
    counts[layer] = (torch.count_nonzero(hits) if isinstance(hits, Tensor) else hits, total)


def put_fractions(probe: Probe, name: str) -> None:
    counts: dict[int, tuple[Tensor | float, int]] = probe.scratch.pop(f"count/{name}", {})
    if not counts:
        return
    layers = sorted(counts)
    hits = column([counts[j][0] for j in layers])
    probe.put_many(name, layers, hits / vector([counts[j][1] for j in layers], device_of(hits)))
