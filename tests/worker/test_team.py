"""The group sums on torch's OpenMP threads (worker/stats/team.py) against the single-thread
kernel: the same values up to float64 rounding, for blocks of every size (empty, odd, not
divisible by the team), values whose float32 squares underflow or overflow, and NaN."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from worker.stats import kernels, team
from worker.stats.norms import float32_blocks


@pytest.fixture
def two_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def group(seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    sizes = [0, 1, 3, 65537, 300_001, 1 << 19, 7]
    scales = [1.0, 1e-30, 1e30, 1.0, 1e-25, 3.0, 1.0]
    return [torch.randn(n, generator=g) * s for n, s in zip(sizes, scales, strict=True)]


def test_the_team_is_torch_own_openmp_on_this_machine() -> None:
    """torch's Linux builds (CI's, the standard machine's, the images') run on libgomp: the
    team must be found there. Without /proc/self/maps (not Linux) it is not looked for, and
    the single-thread kernel is the documented fallback."""
    if sys.platform == "linux":
        assert "parallel backend: OpenMP" in torch.__config__.parallel_info()
        assert team.OPENMP is not None
        with open("/proc/self/maps") as maps:
            assert team.OPENMP._name in maps.read().split()
    else:
        assert team.OPENMP is None


@pytest.mark.parametrize("n_abs", [0, 3, 7])
def test_team_sums_equal_the_single_thread_kernel(two_threads: None, n_abs: int) -> None:
    tensors = group()
    blocks = float32_blocks(tensors)
    assert blocks is not None and blocks[1].sum() >= team.MIN_VALUES
    squares, totals = team.squares_and_abs_at(*blocks, n_abs)
    ref_squares, ref_totals = kernels.squares_and_abs_at(*blocks, n_abs)
    np.testing.assert_allclose(squares, ref_squares, rtol=1e-13, atol=0)
    np.testing.assert_allclose(totals, ref_totals, rtol=1e-13, atol=0)
    assert squares[0] == totals[0] == 0.0  # the empty block
    assert all(totals[k] == 0.0 for k in range(n_abs, len(tensors)))
    for k, t in enumerate(tensors):  # and against float64 NumPy
        wide = t.numpy().astype(np.float64)
        assert squares[k] == pytest.approx(float(np.dot(wide, wide)), rel=1e-12, abs=0)
    assert squares[1] > 0 and squares[2] < math.inf  # 1e-30 and 1e30 in float32


def test_team_sums_are_reproducible_and_fall_back_with_one_thread(two_threads: None) -> None:
    blocks = float32_blocks(group(1))
    assert blocks is not None
    first = team.squares_and_abs_at(*blocks, 7)
    again = team.squares_and_abs_at(*blocks, 7)
    assert first[0].tolist() == again[0].tolist() and first[1].tolist() == again[1].tolist()
    torch.set_num_threads(1)
    alone = team.squares_and_abs_at(*blocks, 7)
    ref = kernels.squares_and_abs_at(*blocks, 7)
    assert alone[0].tolist() == ref[0].tolist()  # the very same kernel: bit for bit


def test_team_sums_propagate_nan_and_infinity(two_threads: None) -> None:
    tensors = group(2)
    tensors[3][12345] = math.nan
    tensors[5][-1] = math.inf
    blocks = float32_blocks(tensors)
    assert blocks is not None
    squares, totals = team.squares_and_abs_at(*blocks, 7)
    assert math.isnan(squares[3]) and math.isnan(totals[3])
    assert squares[5] == totals[5] == math.inf
    assert all(math.isfinite(squares[k]) for k in (0, 1, 2, 4, 6))
