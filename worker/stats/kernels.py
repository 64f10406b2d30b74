"""One-pass reductions of host memory, compiled (numba) for the statistics' CPU paths.

A probe reads every node output, weight and gradient once or twice; in Python each reading
costs several calls (NumPy, BLAS through f2py) and each call more than the arithmetic on
these small tensors. Here each statistic's reading of one tensor is one compiled call that
streams the memory once, vectorised.

Sums accumulate in float64. For float32 input a float64 sum of squares can neither underflow
nor overflow (a float32's square lies between 2e-90 and 1.2e77), and its relative error is
at most n * 2^-53: the norms of 1e-30 gradients come out exact without any rescaling. The
compiler may reorder the additions (to vectorise them) but assumes nothing about NaN or
infinity: a diverged run's values propagate as they would in NumPy.

A contiguous float32 tensor can also be handed over by address (its data_ptr() and numel(),
the `*_at` kernels): a NumPy view of a tensor costs ~3 us to make, more than reading a small
one, and a group of tensors then goes in one call. The caller keeps the tensors alive.

The kernels are compiled when this module is imported (the worker imports it once, at
start), and cached on disk when a cache directory can be written.
"""

from __future__ import annotations

import os
import tempfile

# numba reads its configuration when it is first imported: a writable cache directory
# unless the deployment set one (an installed package's own folder may be read-only).
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(tempfile.gettempdir(), "gradprobe-numba"))

import numba
import numpy as np
from numba.core import types
from numba.extending import intrinsic


def _compile(signatures: list[str]):  # type: ignore[no-untyped-def]
    """Compile now, for these argument types (reordering sums; no NaN or infinity rules)."""
    return numba.njit(signatures, nogil=True, cache=True, fastmath={"reassoc", "contract"})


@_compile(["UniTuple(f8, 3)(f4[:, ::1])", "UniTuple(f8, 3)(f8[:, ::1])"])
def shifted_sums(rows: np.ndarray) -> tuple[float, float, float]:
    """(s, sum of d, sum of d^2) over all values of `rows`, with d = value - s and s the
    first value: the mean and variance then lose no precision to a mean much larger than
    the spread. `rows` is not empty."""
    a = rows.reshape(rows.size)  # one vectorised loop over all values
    shift = np.float64(a[0])
    total = 0.0
    squares = 0.0
    for i in range(a.shape[0]):
        d = np.float64(a[i]) - shift
        total += d
        squares += d * d
    return shift, total, squares


@_compile(["f8(f4[::1])"])
def sum_squares(a: np.ndarray) -> float:
    """The sum of the squares of float32 values, in float64 (see the module docstring)."""
    squares = 0.0
    for i in range(a.shape[0]):
        d = np.float64(a[i])
        squares += d * d
    return squares


@_compile(["UniTuple(f8, 2)(f4[::1])"])
def squares_and_abs(a: np.ndarray) -> tuple[float, float]:
    """(sum of squares, sum of absolute values) of float32 values in one pass, in float64."""
    squares = 0.0
    total = 0.0
    for i in range(a.shape[0]):
        d = np.float64(a[i])
        squares += d * d
        total += abs(d)
    return squares, total


def pointer_to(kind: types.Type):  # type: ignore[no-untyped-def]
    """An intrinsic: the `kind` pointer at an integer address (e.g. a tensor's data_ptr())."""

    @intrinsic
    def at(typingctx, address):  # type: ignore[no-untyped-def]
        if not isinstance(address, types.Integer):
            return None
        signature = types.CPointer(kind)(address)

        def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
            return builder.inttoptr(args[0], context.get_value_type(sig.return_type))

        return signature, codegen

    return at


_float32_at = pointer_to(types.float32)


@_compile(["f8(i8, i8)"])
def sum_squares_at(address: int, size: int) -> float:
    """sum_squares of the `size` float32 values at `address`."""
    return sum_squares(numba.carray(_float32_at(address), (size,)))


@_compile(["UniTuple(f8, 2)(i8, i8, i8, i8)"])
def two_sums_squares_at(a: int, a_size: int, b: int, b_size: int) -> tuple[float, float]:
    """sum_squares_at of two blocks in one call (the two gradients a backward hook sees:
    plain integers are the cheapest arguments to pass)."""
    return sum_squares_at(a, a_size), sum_squares_at(b, b_size)


@_compile(["UniTuple(f8[::1], 2)(i8[::1], i8[::1], i8)"])
def squares_and_abs_at(
    addresses: np.ndarray, sizes: np.ndarray, n_abs: int
) -> tuple[np.ndarray, np.ndarray]:
    """(sums of squares, sums of absolute values) of each block k (`sizes[k]` float32 values
    at `addresses[k]`): a group of tensors in one call (worker.stats.norms.float32_blocks).
    Only the first `n_abs` blocks' absolute values are summed (the others' are 0): a block
    whose squares alone are wanted costs one sum less."""
    squares = np.empty(addresses.shape[0])
    totals = np.zeros(addresses.shape[0])
    for k in range(addresses.shape[0]):
        block = numba.carray(_float32_at(addresses[k]), (sizes[k],))
        if k < n_abs:
            squares[k], totals[k] = squares_and_abs(block)
        else:
            squares[k] = sum_squares(block)
    return squares, totals


@_compile(
    [
        "Tuple((f8, f8, f8, f8, f8, f8, i8))(f4[:, ::1])",
        "Tuple((f8, f8, f8, f8, f8, f8, i8))(f8[:, ::1])",
    ]
)
def relu_sums(rows: np.ndarray) -> tuple[float, float, float, float, float, float, int]:
    """shifted_sums of `rows` (z) and of y = max(z, 0) taken element by element as torch's
    ReLU does (NaN stays NaN), then how many columns (units) of y are at most 0 in every row:
    (z's s, sum d, sum d^2, y's s, sum d, sum d^2, dead units). `rows` is not empty."""
    z_shift = np.float64(rows[0, 0])
    y_shift = 0.0 if z_shift <= 0 else z_shift
    z_total = z_squares = y_total = y_squares = 0.0
    top = np.empty(rows.shape[1])  # per unit, the largest y so far: one pass for everything
    for i in range(rows.shape[0]):
        row = rows[i]
        for j in range(rows.shape[1]):
            z = np.float64(row[j])
            y = 0.0 if z <= 0 else z
            d = z - z_shift
            e = y - y_shift
            z_total += d
            z_squares += d * d
            y_total += e
            y_squares += e * e
            top[j] = y if i == 0 else max(top[j], y)
    dead = 0
    for j in range(top.shape[0]):
        if top[j] <= 0:
            dead += 1
    return z_shift, z_total, z_squares, y_shift, y_total, y_squares, dead


@_compile(["Tuple((f8, f8, f8, f8, f8, f8, i8))(i8, i8, i8)"])
def relu_sums_at(
    address: int, rows: int, columns: int
) -> tuple[float, float, float, float, float, float, int]:
    """relu_sums of a contiguous float32 (rows x columns) block at `address`."""
    return relu_sums(numba.carray(_float32_at(address), (rows, columns)))


@_compile(["i8(f4[:, ::1], f8, b1)", "i8(f8[:, ::1], f8, b1)"])
def units_below(rows: np.ndarray, floor: float, inclusive: bool) -> int:
    """How many columns (units) of `rows` (batch x units) have a largest value below `floor`
    (or equal to it, when `inclusive`)."""
    top = rows[0].copy()
    for i in range(1, rows.shape[0]):
        row = rows[i]
        for j in range(rows.shape[1]):
            top[j] = max(top[j], row[j])
    count = 0
    for j in range(top.shape[0]):
        if top[j] < floor or (inclusive and top[j] == floor):
            count += 1
    return count


@_compile(["i8(f4[:, ::1], f8, f8)", "i8(f8[:, ::1], f8, f8)"])
def outside_band(rows: np.ndarray, centre: float, radius: float) -> int:
    """How many values of `rows` lie farther than `radius` from `centre`."""
    a = rows.reshape(rows.size)
    count = 0
    for i in range(a.shape[0]):
        if abs(np.float64(a[i]) - centre) > radius:
            count += 1
    return count


@_compile(["i8(f4[:, ::1], i8[::1])", "i8(f8[:, ::1], i8[::1])"])
def argmax_hits(scores: np.ndarray, labels: np.ndarray) -> int:
    """How many rows of `scores` (examples x classes) have their largest value at the
    column `labels` names. The first maximum counts, and NaN above everything, as in
    NumPy's and torch's argmax."""
    hits = 0
    for i in range(scores.shape[0]):
        row = scores[i]
        best = 0
        for k in range(1, row.shape[0]):
            if row[k] > row[best] or (np.isnan(row[k]) and not np.isnan(row[best])):
                best = k
        if best == labels[i]:
            hits += 1
    return hits
