"""A group's sums split between torch's own OpenMP threads (the host paths' largest reads).

A probe's passes over the parameters (their gradients and values after backward, the
optimizer's buffers after the step: ~15 MB on a 20-layer MLP of width 256) are bound by how
fast one core streams memory. Meanwhile torch's other intra-op threads sit idle, spinning
until torch's next kernel. So the pass runs on those very threads: the compiled kernel is a
C callback handed to libgomp's GOMP_parallel (the entry point of `#pragma omp parallel`) in
the OpenMP runtime torch itself was loaded with, and each thread of the team reads its share
of every block. A second thread pool (numba's own, or a Python thread) would instead compete
with torch's spinning threads for the same cores.

Where that runtime cannot be found (torch built on another threading backend, another
OpenMP, or more than one libgomp loaded), where torch runs one thread, or for small groups,
the single-thread kernel does the work. Both sum in float64, so they agree to rounding; a
given thread count always splits a block the same way, so a run is reproducible.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numba
import numpy as np
import torch
from numba.core import types

from worker.stats import kernels

MIN_VALUES = 1 << 19  # smaller groups (2 MB) are not worth waking the team for (~12 us)


_int64_at = kernels.pointer_to(types.int64)
_float64_at = kernels.pointer_to(types.float64)


def _openmp() -> ctypes.CDLL | None:
    """The libgomp torch runs its kernels on, if that is what it runs them on."""
    if "parallel backend: OpenMP" not in torch.__config__.parallel_info():
        return None
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    loaded = {line.split()[-1] for line in maps.splitlines() if "/libgomp" in line}
    torch_own = {p for p in loaded if Path(p).parent == Path(torch.__file__).parent / "lib"}
    found = torch_own or loaded
    if len(found) != 1:
        return None
    try:
        lib = ctypes.CDLL(found.pop())
        c = ctypes
        lib.GOMP_parallel.argtypes = [c.c_void_p, c.c_void_p, c.c_uint, c.c_uint]
        lib.GOMP_parallel.restype = None
        return lib
    except (OSError, AttributeError):
        return None


OPENMP = _openmp()


def _build(lib: ctypes.CDLL):  # type: ignore[no-untyped-def]
    thread_num = ctypes.CFUNCTYPE(ctypes.c_int)(("omp_get_thread_num", lib))
    num_threads = ctypes.CFUNCTYPE(ctypes.c_int)(("omp_get_num_threads", lib))

    @numba.cfunc(types.void(types.int64), nogil=True, fastmath={"reassoc", "contract"})
    def share(job: int) -> None:  # pragma: no cover - runs as a C callback
        """One thread's part: the same slice of every block. `job` is the address of six
        int64s: addresses, sizes (their addresses), blocks, out (address), threads, n_abs.
        out holds (squares, totals) x threads x blocks, zeroed by the caller."""
        args = numba.carray(_int64_at(job), (6,))
        n, n_abs = args[2], args[5]
        addresses = numba.carray(_int64_at(args[0]), (n,))
        sizes = numba.carray(_int64_at(args[1]), (n,))
        out = numba.carray(_float64_at(args[3]), (2 * args[4] * n,))
        me, team = thread_num(), num_threads()
        for k in range(n):
            lo, hi = sizes[k] * me // team, sizes[k] * (me + 1) // team
            block = numba.carray(kernels._float32_at(addresses[k] + 4 * lo), (hi - lo,))
            if k < n_abs:
                out[me * n + k], out[(args[4] + me) * n + k] = kernels.squares_and_abs(block)
            else:
                out[me * n + k] = kernels.sum_squares(block)

    return share


_SHARE = None if OPENMP is None else _build(OPENMP)


def squares_and_abs_at(
    addresses: np.ndarray, sizes: np.ndarray, n_abs: int
) -> tuple[np.ndarray, np.ndarray]:
    """kernels.squares_and_abs_at (the same arguments and results), on torch's threads where
    they can take it."""
    threads = torch.get_num_threads()
    if _SHARE is None or OPENMP is None or threads < 2 or sizes.sum() < MIN_VALUES:
        return kernels.squares_and_abs_at(addresses, sizes, n_abs)
    n = addresses.shape[0]
    addresses = np.ascontiguousarray(addresses, dtype=np.int64)
    sizes = np.ascontiguousarray(sizes, dtype=np.int64)
    out = np.zeros((2, threads, n))
    job = np.array(
        [addresses.ctypes.data, sizes.ctypes.data, n, out.ctypes.data, threads, n_abs],
        dtype=np.int64,
    )
    OPENMP.GOMP_parallel(_SHARE.address, job.ctypes.data, threads, 0)
    return out[0].sum(axis=0), out[1].sum(axis=0)
