"""The compiled host reductions (worker/stats/kernels.py) against NumPy in float64, on the
float32 and float64 values the CPU paths hand them: sizes that do and do not fill a vector
register, values whose float32 squares underflow or overflow, ties at a threshold, NaN."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from worker.stats.kernels import (
    argmax_hits,
    outside_band,
    relu_sums,
    relu_sums_at,
    shifted_sums,
    squares_and_abs,
    squares_and_abs_at,
    sum_squares,
    two_sums_squares_at,
    units_below,
)
from worker.stats.norms import float32_blocks, host_l2_and_l1, host_norm

SIZES = [1, 3, 17, 1000, 65537]


def values(n: int, scale: float, dtype: type = np.float32, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(n) * scale).astype(dtype)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("scale", [1e-30, 1.0, 1e30])
def test_float32_sums_are_float64_sums(n: int, scale: float) -> None:
    """1e-30: every float32 square underflows, 1e30: every one overflows; the kernels sum in
    float64, so both are the float64 sums of the same values."""
    a = values(n, scale)
    wide = a.astype(np.float64)
    assert sum_squares(a) == pytest.approx(float(np.sum(wide * wide)), rel=1e-12)
    squares, total = squares_and_abs(a)
    assert squares == pytest.approx(float(np.sum(wide * wide)), rel=1e-12)
    assert total == pytest.approx(float(np.sum(np.abs(wide))), rel=1e-12)
    assert sum_squares(a) > 0 and math.isfinite(sum_squares(a))


@pytest.mark.parametrize("scale", [1e-30, 1.0, 1e30])
def test_blocks_read_by_address(scale: float) -> None:
    """A group of tensors read in one call by address: each block's sums are the kernels'
    on that tensor's own values (sizes that do and do not fill a register, an empty one, a
    slice that starts inside its storage)."""
    storage = torch.from_numpy(values(70000, scale, seed=2))
    tensors = [torch.from_numpy(values(n, scale, seed=n)) for n in SIZES]
    tensors += [torch.zeros(0), storage[5:1005], storage.view(700, 100)[3]]
    blocks = float32_blocks(tensors)
    assert blocks is not None
    squares, totals = squares_and_abs_at(*blocks, len(tensors))
    for t, sq, total in zip(tensors, squares, totals, strict=True):
        wide = t.numpy().astype(np.float64)
        assert sq == pytest.approx(float(np.sum(wide * wide)), rel=1e-12, abs=0.0)
        assert total == pytest.approx(float(np.sum(np.abs(wide))), rel=1e-12, abs=0.0)
    only_squares, no_totals = squares_and_abs_at(*blocks, 0)
    assert list(only_squares) == list(squares) and not no_totals.any()
    first = 3  # the absolute values of the first blocks only
    assert list(squares_and_abs_at(*blocks, first)[1]) == [
        *totals[:first],
        *[0.0] * (len(tensors) - first),
    ]


def test_single_blocks_by_address_match_the_array_kernels() -> None:
    """The hook's pair and a ReLU pair's pass, given plain addresses: the same numbers as
    the array kernels on the same memory (a row-major batch x units block)."""
    a = torch.from_numpy(values(1000, 1e-30, seed=3))
    b = torch.from_numpy(values(17, 1.0, seed=4))
    got = two_sums_squares_at(a.data_ptr(), a.numel(), b.data_ptr(), b.numel())
    assert got == (sum_squares(a.numpy()), sum_squares(b.numpy()))
    z = torch.from_numpy(values(33 * 70, 1.0, seed=5)).reshape(33, 70)
    z[:, :9] = -z[:, :9].abs()  # dead units
    assert relu_sums_at(z.data_ptr(), 33, 70) == relu_sums(z.numpy())
    assert relu_sums(z.numpy())[-1] >= 9


def test_blocks_only_where_memory_is_the_values() -> None:
    """Not contiguous, not float32, or not on the CPU: no blocks (the per-tensor path)."""
    a = torch.ones(4, 3)
    assert float32_blocks([a]) is not None
    assert float32_blocks([a, a.t()]) is None
    assert float32_blocks([a, a.double()]) is None
    assert float32_blocks([a, torch.ones(3, device="meta")]) is None
    blocks = float32_blocks([a, None])  # no gradient: an empty block, whose sums are 0
    assert blocks is not None
    squares, totals = squares_and_abs_at(*blocks, 2)
    assert list(squares) == [12.0, 0.0] and list(totals) == [12.0, 0.0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("batch", ["one", "each"])
def test_shifted_sums(dtype: type, n: int, batch: str) -> None:
    a = (values(n, 1e-3, dtype) + 1000).astype(dtype)  # mean far above the spread
    shift, total, squares = shifted_sums(a.reshape((1 if batch == "one" else n), -1))
    d = a.astype(np.float64) - float(a[0])
    assert shift == float(a[0])
    assert total == pytest.approx(float(d.sum()), rel=1e-12, abs=1e-12)
    assert squares == pytest.approx(float((d * d).sum()), rel=1e-12)


def test_nan_and_inf_propagate() -> None:
    """A diverged run's values go through as NumPy would take them (no fast-math NaN rules)."""
    a = np.array([1.0, np.nan, 2.0], np.float32)
    assert math.isnan(sum_squares(a)) and math.isnan(shifted_sums(a.reshape(3, 1))[1])
    assert math.isinf(sum_squares(np.array([1.0, np.inf], np.float32)))
    assert math.isnan(squares_and_abs(np.array([np.inf, -np.inf], np.float32))[0] - math.inf)
    group = [torch.tensor([1.0, math.nan]), torch.tensor([math.inf, 2.0])]
    squares, totals = squares_and_abs_at(*float32_blocks(group), 2)  # type: ignore[misc]
    assert math.isnan(squares[0]) and math.isnan(totals[0])
    assert math.isinf(squares[1]) and math.isinf(totals[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("inclusive", [True, False])
def test_units_below(dtype: type, inclusive: bool) -> None:
    rng = np.random.default_rng(1)
    rows = np.maximum(rng.standard_normal((33, 70)), 0).astype(dtype)
    rows[:, :9] = 0.0  # dead ReLU units: exactly at the floor
    rows[:, 9:12] = -0.5  # below it
    top = rows.max(axis=0)
    want = int(np.sum(top <= 0.0 if inclusive else top < 0.0))
    assert units_below(rows, 0.0, inclusive) == want
    assert want == (12 if inclusive else 3)
    assert units_below(rows[:1].copy(), 0.0, inclusive) == int(
        np.sum(rows[0] <= 0.0 if inclusive else rows[0] < 0.0)
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_outside_band(dtype: type) -> None:
    a = np.random.default_rng(2).uniform(0, 1, (13, 77)).astype(dtype)
    want = int(np.sum(np.abs(a.astype(np.float64) - 0.5) > 0.45))
    assert outside_band(a, 0.5, 0.45) == want > 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("first", [-1.0, 2.0])
def test_relu_sums_are_those_of_the_relu_output(dtype: type, first: float) -> None:
    """One pass over z gives z's and relu(z)'s shifted sums and relu(z)'s dead units, as the
    separate passes over torch's relu(z) give them; NaN stays NaN."""
    rows = np.random.default_rng(4).standard_normal((33, 70)).astype(dtype)
    rows[:, :5] = -np.abs(rows[:, :5])  # dead units
    rows[:, 5] = 0.0  # dead: exactly at zero
    rows[0, 0] = first  # the shift: negative (y's is 0) or positive
    y = torch.relu(torch.from_numpy(rows)).numpy()
    z_sums, y_sums, dead = relu_sums(rows)[:3], relu_sums(rows)[3:6], relu_sums(rows)[6]
    assert z_sums == pytest.approx(shifted_sums(rows), rel=1e-12, abs=1e-9)
    assert y_sums == pytest.approx(shifted_sums(y), rel=1e-12, abs=1e-9)
    assert dead == units_below(y, 0.0, True) == (5 if first > 0 else 6)
    rows[3, 7] = np.nan
    assert math.isnan(relu_sums(rows)[4]) and math.isnan(relu_sums(rows)[5])
    rows[0, 1] = rows[4, 2] = np.nan  # in dead units: first in its column, and further down
    y = torch.relu(torch.from_numpy(rows)).numpy()
    assert relu_sums(rows)[6] == units_below(y, 0.0, True)  # the same NaN rules as a max


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_argmax_hits_counts_as_torch_argmax(dtype: type) -> None:
    """Ties go to the first maximum and NaN beats every number, as torch's argmax has it."""
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 3, (200, 5)).astype(dtype)  # many ties
    scores[7, 3] = scores[9, 0] = scores[9, 4] = np.nan
    scores[11] = np.nan
    labels = rng.integers(0, 5, 200)
    labels[[7, 9, 11]] = [3, 0, 0]
    want = int((torch.from_numpy(scores).argmax(-1) == torch.from_numpy(labels)).sum())
    assert argmax_hits(scores, labels) == want
    assert argmax_hits(scores[:1].copy(), labels[:1].copy()) == int(scores[0].argmax() == labels[0])


def test_host_norms_of_non_contiguous_tensors() -> None:
    """A strided view is read as its values (copied once), not as the memory beneath it."""
    t = torch.randn(64, 48)
    for view in (t.T, t[:, ::3], t.reshape(-1)[::5]):
        wide = view.double()
        assert host_norm(view) == pytest.approx(float(wide.norm()), rel=1e-12)
        assert host_l2_and_l1(view) == pytest.approx(
            (float(wide.norm()), float(wide.abs().sum())), rel=1e-12
        )
        assert host_norm(view, ord=1.0) == pytest.approx(float(wide.abs().sum()), rel=1e-12)
