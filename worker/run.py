"""execute(spec) -> Result: the one function the worker task and the local command call."""

from __future__ import annotations

import gc
import math
import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

import gradprobe
from gradprobe.plan import Plan, make_plan, parse_spec
from gradprobe.result import Histograms, LayerInfo, Result, Timesteps, Timing
from gradprobe.spec import Caps, JobSpec, ProbeSpec
from worker.builder import GraphNet, build
from worker.data import Batches, load
from worker.recorder import ProgressFn, Recorder, Recording
from worker.schedule import bytes_per_point, probe_steps
from worker.stats.base import Statistic, layer_table
from worker.stats.grad_histogram import BINS, EDGES
from worker.stats.registry import selected
from worker.summary import summarise
from worker.trainer import TrainLog, train

# The latest per-layer norms a probe measured, as the live events carry them:
# {"step", "metrics": [names], "layers": {layer name: [one value per metric]}, "layer_count"}.
LayerNorms = dict[str, Any]
# (step, loss, latest) at each probe; `latest()` builds that probe's LayerNorms, so a caller
# that drops most probes (the worker's throttle) pays nothing for the ones it drops.
LayerProgressFn = Callable[[int, float | None, Callable[[], LayerNorms]], None]
LIVE_METRICS = ("act_grad_norm", "weight_grad_norm")
# At most this many layers in the live norms: a 200-layer MLP (401 graph layers) is sent
# whole, about 13 KB; a deeper net is thinned to this many evenly spaced layers, the first
# and the last kept.
MAX_LIVE_LAYERS = 512


def spaced(n: int, cap: int) -> list[int]:
    """`cap` evenly spaced indices of range(n), first and last included; all when n <= cap."""
    if n <= cap:
        return list(range(n))
    if cap <= 1:
        return [0][:cap]
    return sorted({round(i * (n - 1) / (cap - 1)) for i in range(cap)})


def _live(value: float | None) -> float | None:
    """Four significant digits (a live view, not the record); JSON has no NaN or infinity."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.4g}")


def layer_norms(
    names: list[str], rec: Recording, probe: int, cap: int = MAX_LIVE_LAYERS
) -> LayerNorms:
    """The live norms of probe number `probe` of `rec` (its step, at most `cap` layers)."""
    metrics = [m for m in LIVE_METRICS if m in rec.layer and len(rec.layer[m]) > probe]
    rows = [rec.layer[m][probe] for m in metrics]
    return {
        "step": rec.steps[probe],
        "metrics": metrics,
        "layers": {names[i]: [_live(row[i]) for row in rows] for i in spaced(len(names), cap)},
        "layer_count": len(names),
    }


def use_threads(n: int) -> None:
    """CPU threads this process's training uses (a worker's share of the cores)."""
    torch.set_num_threads(n)


def pick_device(choice: str) -> tuple[torch.device, list[str]]:
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu"), []
    if not torch.cuda.is_available():
        return torch.device("cpu"), [
            "train.device is 'cuda' but no CUDA device is available: ran on the CPU"
        ]
    return torch.device("cuda"), []


def _layers(plan: Plan) -> list[LayerInfo]:
    return [
        LayerInfo(
            name=la.name,
            op=la.op,
            index=i,
            params=la.params,
            shape=list(la.shape),
            activation=getattr(la.node, "fn", None),
            trunk=la.trunk,
        )
        for i, la in enumerate(plan.layers)
    ]


def _present(series: list[float | None] | None) -> list[float | None] | None:
    """A scalar series, or None when the statistic never applied (accuracy for regression)."""
    return series if series and any(v is not None for v in series) else None


def _timing(log: TrainLog, probed: list[int], rec: Recording) -> Timing:
    probed_set = set(probed)
    plain = [t for s, t in enumerate(log.step_times) if s not in probed_set]
    probe = [t for s, t in enumerate(log.step_times) if s in probed_set]
    base = statistics.median(plain) if plain else statistics.median(log.step_times or [0.0])
    extra = max(sum(probe) - base * len(probe), 0.0)
    total = sum(log.step_times) or 1.0
    return Timing(
        step_ms=base * 1e3, probe_overhead=extra / total, probes=len(rec.steps), total_s=log.total_s
    )


def _result(run: Prepared, rec: Recording, log: TrainLog, schedule: list[int]) -> Result:
    spec = run.spec
    layers = _layers(run.plan)
    timesteps = histograms = None
    if rec.vectors.get("timestep_grad_norm") and any(la.op == "rnn" for la in layers):
        rows = [
            next((v for v in row if v is not None), []) for row in rec.vectors["timestep_grad_norm"]
        ]
        owner = next((la.name for la in reversed(layers) if la.op == "rnn"), "")
        timesteps = Timesteps(layer=owner, steps=rec.steps, grad_norm=rows)
    if "grad_histogram" in rec.vectors:
        grid = rec.vectors["grad_histogram"]
        histograms = Histograms(
            edges=EDGES,
            steps=rec.steps,
            counts=[
                [None if v is None else [int(c) for c in v[:BINS]] for v in row] for row in grid
            ],
            zeros=[[None if v is None else int(v[BINS]) for v in row] for row in grid],
        )
    return Result(
        spec=spec,
        layers=layers,
        steps=rec.steps,
        metrics=dict(rec.layer),
        timesteps=timesteps,
        histograms=histograms,
        loss=rec.scalar.get("loss", []),
        accuracy=_present(rec.scalar.get("accuracy")),
        summary=summarise(layers, rec, spec.train.steps, run.batches.prior_loss),
        timing=_timing(log, schedule, rec),
        device=str(run.device),
        precision=run.precision,
        warnings=run.warnings,
        versions={"gradprobe": gradprobe.__version__, "torch": torch.__version__},
    )


@dataclass
class Prepared:
    """A spec made ready to train: the checked plan, the initialised model and the data."""

    spec: JobSpec
    plan: Plan
    model: GraphNet
    batches: Batches
    device: torch.device
    precision: str
    warnings: list[str]


def prepare(spec: JobSpec, caps: Caps) -> Prepared:
    """Plan, pick the device and precision, seed, build and load: everything before training."""
    plan = make_plan(spec, caps)
    device, warnings = pick_device(spec.train.device)
    precision = spec.train.precision
    if precision in ("bf16", "fp16") and device.type != "cuda":
        warnings.append(f"{precision} autocast needs CUDA: ran in fp32")
        precision = "fp32"
    dtype = torch.float64 if precision == "fp64" else torch.float32
    torch.manual_seed(spec.train.seed)
    model = build(plan, dtype).to(device)
    t = spec.train
    batches = load(spec.data, plan.data, spec.model.type, caps, t.batch_size, t.seed, device, dtype)
    return Prepared(spec, plan, model, batches, device, precision, warnings)


def attach(run: Prepared, probe: ProbeSpec) -> list[Statistic]:
    """Fresh instances of the statistics `probe` asks for, bound to `run`'s network."""
    layers = run.plan.layers
    table = layer_table(
        run.model.names,
        [la.op for la in layers],
        [getattr(la.node, "fn", None) for la in layers],
        list(run.model.nodes),
        run.device,
        run.model.sources,
        run.model.output,
    )
    stats = selected(probe)
    for s in stats:
        s.bind(table)
    return stats


def execute(
    spec: JobSpec | dict[str, Any],
    caps: Caps | None = None,
    *,
    progress: ProgressFn | None = None,
    should_cancel: Callable[[], bool] | None = None,
    layer_progress: LayerProgressFn | None = None,
) -> Result:
    """Run `spec`'s instrumented training and return the result document.

    Raises SpecError for a spec that cannot run; a run that diverges is a result (verdict
    `diverged`), not an exception. `progress(step, loss)` is called at each probe, and
    `layer_progress(step, loss, latest)` too, where `latest()` returns that probe's
    `layer_norms`; `should_cancel()` is checked every step and ends the run early when it
    returns True.
    """
    spec = parse_spec(spec) if isinstance(spec, dict) else spec
    run = prepare(spec, caps or Caps())
    stats = attach(run, spec.probe)
    schedule = _schedule(spec, run.plan, stats)
    target = run.plan.data.target
    names = [la.name for la in run.plan.layers]

    def report(step: int, loss: float | None) -> None:
        # The recorder calls once it has stored the probe: its Recording's newest column.
        if progress is not None:
            progress(step, loss)
        if layer_progress is not None:
            rec, probe = recorder.rec, len(recorder.rec.steps) - 1  # fixed now, not later
            layer_progress(step, loss, lambda: layer_norms(names, rec, probe))

    each_probe = report if layer_progress is not None else progress
    recorder = Recorder(run.model, stats, schedule, target, each_probe, should_cancel)
    with frozen_heap():
        log = train(run.model, run.batches, spec.train, target, recorder, run.device)
    return _result(run, recorder.rec, log, schedule)


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Hide everything allocated so far (torch's and this process's ~400,000 objects) from
    the garbage collector while training runs. A full collection walks every tracked
    object, ~90 ms each here, and a probe's small allocations trigger one every few dozen
    steps; frozen, it walks only what the run made. Unfrozen afterwards: what the run
    leaves behind in reference cycles is collected as usual."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _schedule(spec: JobSpec, plan: Plan, stats: list[Any]) -> list[int]:
    layer_metrics = sum(1 for s in stats if s.kind == "layer")
    t = (
        plan.data.input[0]
        if any(s.kind == "timestep" for s in stats) and len(plan.data.input) == 2
        else 0
    )
    hist = (BINS + 1) * sum(1 for la in plan.layers if la.params) if spec.probe.histograms else 0
    per_point = bytes_per_point(len(plan.layers), layer_metrics, t, hist)
    return probe_steps(spec.train.steps, spec.probe.every, spec.probe.max_points, per_point)
