"""The summary: decay fits, ratios and the verdict, each rule with its documented threshold.

Thresholds (docs/statistics.md explains each):
- diverged      a non-finite loss or gradient statistic (first step reported)
- exploding     gradient at the first trunk layer > 1e3 x the last's (weights or flow), or
                through time: decay_per_timestep^(T-1) > 1e3
- vanishing     that ratio < 1e-3, or decay_per_timestep^(T-1) < 1e-3
- saturated     > 50% of saturating-activation outputs saturated at the last probe
- dead_units    > 50% of rectifier units dead on the whole batch at the last probe
- not_training  over a run of >= 20 steps the loss fell by < 5% of its starting level: the
                initial loss, or for classification the lower loss of predicting the
                class frequencies of the data (learning only those is not training)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from gradprobe.result import Check, LayerInfo, Summary
from worker.recorder import Recording

RATIO_HIGH, RATIO_LOW = 1e3, 1e-3
SATURATED_MAX = DEAD_MAX = 0.5
LOSS_DROP_MIN, MIN_STEPS_FOR_TRAINING = 0.05, 20


def decay_fit(values: Sequence[float | None], trim: float = 0.1) -> float | None:
    """exp(-slope) of a least-squares fit of log|g| against position, over the middle of the
    sequence (`trim` dropped at each end, at least one when there are 5+ points): the factor
    by which the gradient is multiplied per layer (or step) going back towards the input."""
    n = len(values)
    cut = max(1, int(n * trim)) if n >= 5 else 0
    pos = np.arange(n)[cut : n - cut]
    v = np.array([np.nan if x is None else x for x in values], dtype=float)[cut : n - cut]
    keep = np.isfinite(v) & (v > 0)
    if keep.sum() < 3:
        return None
    slope = np.polyfit(pos[keep], np.log(v[keep]), 1)[0]
    return float(math.exp(-slope))


def _ratio(row: list[float | None], first: int, last: int) -> float | None:
    a, b = row[first], row[last]
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)) or b == 0:
        return None
    return a / b


def _mean_of(row: list[float | None] | None) -> float | None:
    vals = [v for v in (row or []) if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def _loss_drop(loss: list[float | None], chance: float | None = None) -> float | None:
    """(start - last) / |start|, start being the first finite loss, or the loss of predicting
    the class frequencies when that is lower (classification)."""
    finite = [v for v in loss if v is not None and math.isfinite(v)]
    start = min(finite[0], chance) if finite and chance is not None else (finite or [0.0])[0]
    if len(finite) < 2 or start == 0:
        return None
    return (start - finite[-1]) / abs(start)


def _checks(
    layers: list[LayerInfo], rec: Recording, steps: int, chance: float | None
) -> tuple[list[Check], dict[str, float | None]]:
    trunk = [la.index for la in layers if la.trunk]
    first, last = (trunk[0], trunk[-1]) if len(trunk) >= 2 else (0, 0)
    w0 = rec.layer.get("weight_grad_norm", [[]])[0] if rec.steps else []
    a0 = rec.layer.get("act_grad_norm", [[]])[0] if rec.steps else []
    facts: dict[str, float | None] = {
        "grad_ratio_first_last": _ratio(w0, first, last) if len(trunk) >= 2 else None,
        "act_grad_ratio_first_last": _ratio(a0, first, last) if len(trunk) >= 2 else None,
        "decay_per_layer": decay_fit([a0[i] for i in trunk]) if len(trunk) >= 3 else None,
        "decay_per_timestep": None,
        "loss_drop": _loss_drop(rec.scalar.get("loss", [])),
    }
    through_time = None
    ts = rec.vectors.get("timestep_grad_norm")
    row0 = next((v for v in ts[0] if v is not None), None) if ts else None
    if row0:
        facts["decay_per_timestep"] = decay_fit(
            row0[:-1]
        )  # the last step also gets the read-out's direct gradient
        d = facts["decay_per_timestep"]
        through_time = d ** (len(row0) - 1) if d is not None else None
    ratios = [
        r
        for r in (facts["grad_ratio_first_last"], facts["act_grad_ratio_first_last"], through_time)
        if r
    ]
    sat = _mean_of(rec.layer.get("saturated_frac", [None])[-1] if rec.steps else None)
    dead = _mean_of(rec.layer.get("dead_frac", [None])[-1] if rec.steps else None)
    drop = _loss_drop(rec.scalar.get("loss", []), chance)
    nonfinite = rec.first_nonfinite_step
    checks = [
        Check(
            name="diverged",
            value=None if nonfinite is None else float(nonfinite),
            threshold=0.0,
            triggered=nonfinite is not None,
            explanation=f"the loss or a gradient became NaN/Inf at step {nonfinite}",
        ),
        Check(
            name="exploding",
            value=max(ratios) if ratios else None,
            threshold=RATIO_HIGH,
            triggered=bool(ratios) and max(ratios) > RATIO_HIGH,
            explanation="gradients grow > 1000x on their way back to the first layer (or step)",
        ),
        Check(
            name="vanishing",
            value=min(ratios) if ratios else None,
            threshold=RATIO_LOW,
            triggered=bool(ratios) and min(ratios) < RATIO_LOW,
            explanation="< 1/1000 of the gradient reaches the first layer (or step)",
        ),
        Check(
            name="saturated",
            value=sat,
            threshold=SATURATED_MAX,
            triggered=sat is not None and sat > SATURATED_MAX,
            explanation="most sigmoid/tanh outputs sit where the derivative is < 2% of its peak",
        ),
        Check(
            name="dead_units",
            value=dead,
            threshold=DEAD_MAX,
            triggered=dead is not None and dead > DEAD_MAX,
            explanation="most rectifier units sit at their floor for every example: no gradient",
        ),
        Check(
            name="not_training",
            value=drop,
            threshold=LOSS_DROP_MIN,
            triggered=steps >= MIN_STEPS_FOR_TRAINING and drop is not None and drop < LOSS_DROP_MIN,
            explanation="the loss fell by < 5% of its starting (or chance) level over the run",
        ),
    ]
    return checks, facts


def summarise(
    layers: list[LayerInfo], rec: Recording, steps: int, chance: float | None = None
) -> Summary:
    """`chance`: the loss of predicting the data's class frequencies, for classification."""
    checks, facts = _checks(layers, rec, steps, chance)
    fired = [c for c in checks if c.triggered]
    verdict = fired[0].name if fired else "healthy"
    reasons = [
        f"{c.name}: {c.explanation} (measured {_fmt(c.value)}, threshold {_fmt(c.threshold)})"
        for c in fired
    ]
    if not fired:
        reasons = ["no rule fired: gradients reach every layer within 1000x and the loss falls"]
    return Summary(
        verdict=verdict,
        reasons=reasons,
        first_nonfinite_step=rec.first_nonfinite_step,
        checks=checks,
        **facts,
    )


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3g}"
