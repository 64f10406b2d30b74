"""What one probe costs, phase by phase: gradprobe's recorder on a model with probes at every
other step, each probed step's phase times against the mean of its two unprobed neighbours'.

    python bench/probe_cost.py [--models mlp20,lstm] [--steps 1600] [--every 2] [--json out.json]

overhead.py answers "how much slower is training"; this answers "where does a probe's time
go": neighbouring steps run within ~20 ms of each other, so the VM's drift between fast and
slow states (seconds) cancels out of each difference; repeated runs in one state agree to
~0.1-0.2 ms of a probe's ~2 ms on mlp20. Every default statistic, activation statistics
on, SGD with momentum 0.9, as in overhead.py. The phases are the training loop's: the
forward pass (with the forward observers of a probed step), backward (its hooks), the
recorder's after_backward (the parameter passes and the per-layer tables), the optimizer
step, after_step (update ratios and the probe's flush) and zero_grad. The sum of the
phases' medians need not equal the median of the totals.

--every N (N >= 4) spaces the probes as a run at probe.every N does, and takes each probe
against the two steps before it instead, so that the two steps after it can be measured
too: what a probe leaves behind (the step after a probe runs slower, its caches swept by
the probe) is part of what training at every=N pays, and the neighbours of --every 2 hide
it (it lands in the reference step).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from overhead import MODELS, Setup  # this folder is the script's first import path

from worker.losses import loss_fn
from worker.recorder import Recorder
from worker.run import attach, frozen_heap

PHASES = ("forward", "backward", "after_backward", "optimizer", "after_step", "zero_grad")


def phase_times(s: Setup, steps: int, every: int = 2) -> list[list[float]]:
    """Seconds per phase for each step of one run probed at every `every`-th step."""
    probe = s.spec.probe.model_copy(update={"every": 1, "activations": True})
    opt = torch.optim.SGD(s.model.parameters(), lr=0.01, momentum=0.9)
    recorder = Recorder(s.model, attach(s.run, probe), list(range(0, steps, every)), s.kind)
    recorder.start(opt, False)
    clock = time.perf_counter
    times = []
    for step in range(steps):
        t0 = clock()
        x, y = s.batches.next()
        output = s.model(x)
        loss = loss_fn(s.kind, output, y)
        t1 = clock()
        loss.backward()
        t2 = clock()
        recorder.after_backward(step, loss, output, y)
        t3 = clock()
        opt.step()
        t4 = clock()
        recorder.after_step(step, True)
        t5 = clock()
        opt.zero_grad(set_to_none=True)
        t6 = clock()
        times.append([t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5])
    return times


def probe_cost(times: list[list[float]], every: int = 2) -> dict[str, float]:
    """Median extra milliseconds per phase of a probed step over its reference: the mean of
    its two neighbours (every 2), or of the two steps before it (every >= 4), which also
    gives the extra of the two steps after it ("next_1", "next_2", totals)."""
    row: dict[str, float] = {}
    columns = [*PHASES, "total"]
    with_total = [[*t, sum(t)] for t in times]
    before = (-1, 1) if every == 2 else (-2, -1)
    probed = range(every, len(times) - 2, every)

    def extra(offset: int, i: int) -> float:
        return statistics.median(
            with_total[k + offset][i] - sum(with_total[k + j][i] for j in before) / 2
            for k in probed
        )

    for i, name in enumerate(columns):
        row[name] = extra(0, i) * 1e3
    if every > 2:
        row["next_1"], row["next_2"] = (extra(j, len(PHASES)) * 1e3 for j in (1, 2))
    row["bare_total"] = statistics.median(with_total[k + before[1]][-1] for k in probed) * 1e3
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="mlp20")
    parser.add_argument("--steps", type=int, default=1600)
    parser.add_argument("--every", type=int, default=2, help="steps between probes: 2, or 4+")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.every != 2 and args.every < 4:
        parser.error("--every is 2, or 4 and more (the reference is the two steps before a probe)")
    results = {}
    for name in args.models.split(","):
        s = Setup(MODELS[name], torch.device("cpu"))
        with frozen_heap():
            phase_times(s, 20)  # compiled paths and first allocations, untimed
            results[name] = probe_cost(phase_times(s, args.steps, args.every), args.every)
        row = results[name]
        parts = "  ".join(f"{p} +{row[p]:.3f}" for p in PHASES)
        bare, total = row["bare_total"], row["total"]
        after = ""
        if "next_1" in row:
            after = f"; the next two steps +{row['next_1']:.3f}, +{row['next_2']:.3f} ms"
        print(f"{name}: bare step {bare:.2f} ms, probe +{total:.3f} ms ({parts}){after}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
