"""The norm helper every gradient statistic uses: exact for tiny values on both of its paths
(the CPU's BLAS calls and the accelerator's power-of-two scaling, run here on CPU tensors)."""

from __future__ import annotations

import pytest
import torch

from worker.stats.norms import BLAS_SCALES, host_norm, norms, norms_scaled


@pytest.fixture
def tensors() -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    scales = [
        1.0,
        1e-3,
        1e-20,
        1e-30,
        1e-38,
        1e6,
        0.0,
        1e-44,
        2.2e-19,
        6e-19,  # these two: squares near the subnormal edge
        1e25,  # squares overflow float32
    ]
    return [torch.randn(64, 33, generator=gen) * s for s in scales]


def reference(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack([torch.linalg.vector_norm(t.double()) for t in tensors])


@pytest.mark.parametrize(
    "path",
    [
        lambda ts: torch.tensor([host_norm(t) for t in ts], dtype=torch.float64),
        norms_scaled,
        lambda ts: torch.as_tensor(norms(ts)),  # NumPy on the host paths
    ],
    ids=["cpu-host", "device-scaled", "norms"],
)
def test_l2_norms_are_exact_for_tiny_tensors(path, tensors: list[torch.Tensor]) -> None:  # type: ignore[no-untyped-def]
    got, want = path(tensors), reference(tensors)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, want, rtol=1e-6, atol=0.0)
    assert got[3] > 0 and got[6] == 0 and got[7] > 0  # 1e-30 and subnormals survive; zeros stay 0


def test_float32_alone_would_underflow(tensors: list[torch.Tensor]) -> None:
    assert torch.linalg.vector_norm(tensors[3]) == 0  # why the helper exists


def test_cpu_norms_take_the_blas_path() -> None:
    assert BLAS_SCALES  # this BLAS's nrm2 scales; otherwise the CPU would rescale like a device


def test_subnormal_results_keep_their_digits() -> None:
    """A norm below float32's smallest normal keeps its digits (float32 is summed in
    float64); below float64's, BLAS's result is recomputed on a rescaled copy."""
    gen = torch.Generator().manual_seed(2)
    t = torch.randn(1000, generator=gen) * 1e-42  # subnormal elements (steps of 1.4e-45)
    want = float(torch.linalg.vector_norm(t.double()))
    assert 0 < want < 1.2e-38
    assert host_norm(t) == pytest.approx(want, rel=1e-6)
    assert host_norm(t, ord=1.0) == pytest.approx(float(t.double().abs().sum()), rel=1e-6)
    tiny = torch.randn(1000, generator=gen, dtype=torch.float64) * 1e-315  # float64 subnormals
    exact = float(torch.linalg.vector_norm(tiny * 2.0**600)) / 2.0**600  # squares in range
    assert 0 < exact < 2.0**-1022
    assert host_norm(tiny) == pytest.approx(exact, rel=1e-6)


def test_l1_and_float64(tensors: list[torch.Tensor]) -> None:
    l1 = torch.as_tensor(norms(tensors, ord=1.0))  # float32 |x| summed in float64
    want = torch.stack([t.double().abs().sum() for t in tensors])
    torch.testing.assert_close(l1, want, rtol=1e-12, atol=0.0)
    doubles = [t.double() for t in tensors]
    torch.testing.assert_close(
        torch.as_tensor(norms(doubles)), reference(tensors), rtol=1e-12, atol=0.0
    )


@pytest.mark.parametrize("on_host", [True, False], ids=["cpu-host", "device-ops"])
def test_moments_stay_accurate_when_the_mean_dwarfs_the_spread(
    on_host: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-pass sums used for act_mean/act_std (about the first element) against a
    float64 two-pass, on the CPU's path and the device's."""
    from worker.stats import base, moments
    from worker.stats.base import Probe

    monkeypatch.setattr(base, "is_host", lambda t: on_host)

    gen = torch.Generator().manual_seed(1)
    outs = [
        1000.0 + 1e-2 * torch.randn(128, 64, generator=gen),  # mean / std = 1e5
        torch.sigmoid(torch.randn(64, 32, generator=gen) * 0.01),  # sigmoid near 0.5
        torch.zeros(16, 8),
        torch.randn(32, 3, 8, 8, generator=gen),
    ]
    probe = Probe(0)
    for j, out in enumerate(outs):
        moments.observe(probe, j, out)
    ((layers, mean, std),) = moments.tables(probe)
    assert layers == [0, 1, 2, 3]
    for j, out in enumerate(outs):
        x = out.double()
        spread = float(x.std(correction=0))  # float32 sums: the mean is good to ~1e-7 of the spread
        assert float(mean[j]) == pytest.approx(float(x.mean()), rel=1e-6, abs=1e-6 * spread + 1e-12)
        assert float(std[j]) == pytest.approx(float(x.std(correction=0)), rel=1e-4, abs=1e-12)
