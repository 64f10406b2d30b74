"""Gradient norms survive gradients far below float32's square-root range.

A 60-layer sigmoid MLP in float32 backpropagates gradients of ~1e-30 to its first layers:
representable in float32, but their squares (~1e-60) are not, so a float32 norm of them is
exactly 0. The engine sums squares in float64 and must report the true, non-zero norm.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor

from worker.run import execute

Ref = Any  # conftest.Reference

DEPTH = 60
FIRST = 4  # the early layers checked


@pytest.fixture(scope="module")
def deep_sigmoid() -> dict[str, Any]:
    return {
        "model": {
            "type": "mlp",
            "depth": DEPTH,
            "width": 16,
            "activation": "sigmoid",
            "init": {"scheme": "normal", "sigma_w": 1.5},
        },
        "data": {"name": "teacher", "input_dim": 8, "classes": 4, "samples": 64},
        "train": {"steps": 0, "batch_size": 16, "device": "cpu", "seed": 0},
        "probe": {"activations": False, "histograms": True},
    }


def float64_norm(tensors: list[Tensor]) -> float:
    """The norm recomputed from the float32 tensors, squares summed in float64."""
    return math.sqrt(sum(float((t.detach().double() ** 2).sum()) for t in tensors))


def float32_norm(tensors: list[Tensor]) -> float:
    """The naive norm, computed in the tensors' own float32."""
    return float(torch.linalg.vector_norm(torch.cat([t.detach().reshape(-1) for t in tensors])))


def test_deep_sigmoid_grad_norms_do_not_underflow(
    deep_sigmoid: dict[str, Any], reference: Callable[[dict[str, Any]], Ref]
) -> None:
    result = execute(deep_sigmoid)
    assert result.precision == "fp32"
    ref = reference(deep_sigmoid)
    assert ref.dtype == torch.float32
    names = [la.name for la in result.layers]

    for k in range(1, FIRST + 1):
        j = names.index(f"h{k}.linear")
        checks = {
            "weight_grad_norm": ref.weight_grads[j],
            "bias_grad_norm": ref.bias_grads[j],
            "act_grad_norm": [ref.act_grads[j]],
        }
        for metric, grads in checks.items():
            assert all(g.dtype == torch.float32 for g in grads)
            biggest = max(float(g.abs().max()) for g in grads)
            assert 0 < biggest < 1e-25, (metric, k, biggest)  # tiny, but not underflowed
            assert float32_norm(grads) == 0.0, (metric, k)  # the naive norm loses it all
            want = float64_norm(grads)
            got = result.metrics[metric][0][j]
            assert got is not None and math.isfinite(got) and got > 0, (metric, k, got)
            assert got == pytest.approx(want, rel=1e-5), (metric, k)

        # the histogram places these gradients in their true decades, with no zeros
        assert result.histograms is not None
        counts, zeros = result.histograms.counts[0][j], result.histograms.zeros[0][j]
        assert zeros == 0
        assert counts is not None and sum(counts) == ref.weights(j)[0].numel()
        assert sum(counts[-25 + 40 :]) == 0  # none at or above 1e-25 (bin k: [1e(k-40), 1e(k-39)))

    # the end of the network has ordinary gradients: the decay is real, not a dead network
    out = names.index("out.linear")
    assert result.metrics["weight_grad_norm"][0][out] > 1e-3
