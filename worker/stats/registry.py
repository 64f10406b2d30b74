"""Every statistic by its stable name, and which ones a probe spec asks for."""

from __future__ import annotations

from gradprobe.spec import ProbeSpec
from worker.stats.accuracy import Accuracy
from worker.stats.act_grad_norm import ActGradNorm
from worker.stats.act_mean import ActMean
from worker.stats.act_std import ActStd
from worker.stats.base import Statistic
from worker.stats.bias_grad_norm import BiasGradNorm
from worker.stats.dead_frac import DeadFrac
from worker.stats.grad_histogram import GradHistogram
from worker.stats.loss import Loss
from worker.stats.saturated_frac import SaturatedFrac
from worker.stats.timestep_grad_norm import TimestepGradNorm
from worker.stats.update_ratio import UpdateRatio
from worker.stats.weight_grad_mean_abs import WeightGradMeanAbs
from worker.stats.weight_grad_norm import WeightGradNorm
from worker.stats.weight_norm import WeightNorm

STATISTICS: dict[str, type[Statistic]] = {
    cls.name: cls
    for cls in (
        Loss,
        Accuracy,
        WeightGradNorm,
        WeightGradMeanAbs,
        BiasGradNorm,
        WeightNorm,
        UpdateRatio,
        ActGradNorm,
        ActMean,
        ActStd,
        SaturatedFrac,
        DeadFrac,
        TimestepGradNorm,
        GradHistogram,
    )
}
ALWAYS = (
    "loss",
    "accuracy",
    "weight_grad_norm",
    "weight_grad_mean_abs",
    "bias_grad_norm",
    "weight_norm",
    "update_ratio",
    "act_grad_norm",
)
ACTIVATIONS = ("act_mean", "act_std", "saturated_frac", "dead_frac")


def selected(probe: ProbeSpec) -> list[Statistic]:
    """Fresh instances (no state shared between runs) of the statistics `probe` asks for."""
    names = list(ALWAYS)
    if probe.activations:
        names += ACTIVATIONS
    if probe.timesteps:
        names.append("timestep_grad_norm")
    if probe.histograms:
        names.append("grad_histogram")
    return [STATISTICS[n]() for n in names]
