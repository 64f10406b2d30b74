"""What is measured, and how often."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from gradprobe.spec.common import Strict


class ProbeSpec(Strict):
    """Probe at step 0, every `every` steps and at the end, thinned evenly to at most
    `max_points` probes and to the byte budget of the result (see docs/statistics.md).

    `activations`: activation mean/std/saturated/dead fractions (forward statistics).
    `histograms`: log-magnitude histograms of weight gradients. `timesteps`: ||dL/dh_t||
    for recurrent layers. Gradient norms (weights and activations) are always taken.
    """

    every: Annotated[int, Field(ge=1, le=10_000_000)] = 10
    activations: bool = True
    histograms: bool = False
    timesteps: bool = True
    max_points: Annotated[int, Field(ge=1, le=10_000)] = 200
