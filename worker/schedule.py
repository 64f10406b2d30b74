"""Which steps are probed: step 0, every `every` steps, and the end, thinned evenly so the
result stays within `probe.max_points` and a byte budget whatever the run length."""

from __future__ import annotations

import numpy as np

METRICS_BUDGET_BYTES = 1_500_000  # the per-step grids; spec, layers and summary come on top
BYTES_PER_VALUE = 13  # a JSON number of 7 significant digits and its comma


def probe_steps(steps: int, every: int, max_points: int, bytes_per_point: int) -> list[int]:
    """Evenly thinned probe steps, always keeping the first (init) and the last."""
    wanted = sorted(set(range(0, steps + 1, every)) | {steps})
    cap = max(2, min(max_points, METRICS_BUDGET_BYTES // max(bytes_per_point, 1)))
    if len(wanted) <= cap:
        return wanted
    picks = np.unique(np.round(np.linspace(0, len(wanted) - 1, cap)).astype(int))
    return [wanted[i] for i in picks]


def bytes_per_point(layers: int, layer_metrics: int, timesteps: int, hist_values: int) -> int:
    """The JSON size one probe adds to the result, at most."""
    return BYTES_PER_VALUE * (layers * layer_metrics + timesteps + hist_values + 2)
