"""Where the every=10 column's excess goes: per-step times of interleaved blocks, gradprobe at
every=10 against the bare loop, by position after a probe.

    python bench/step_positions.py [--model mlp20] [--rounds 30] [--block 60]

Each round runs one bare block and one every=10 block (order alternating) from the same
weights and batches, as overhead.py does, and times every step. Printed: the median bare
step, the median block ratio, the extra of the block's first probe, and for each position
0-9 after a probe the median of the probed loop's steps and of the bare loop's, both over
the round's median bare step. overhead.py's every=10 ratio should equal ~(1 + position 0's
extra / 10 + the others' extras); where it does not, the difference is in how the blocks
were timed, not in the steps.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from overhead import MODELS, Setup  # this folder is the script's first import path

from worker.losses import loss_fn
from worker.recorder import Recorder
from worker.run import attach, frozen_heap
from worker.trainer import train


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="mlp20", choices=sorted(MODELS))
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--block", type=int, default=60)
    args = p.parse_args()
    s = Setup(MODELS[args.model], torch.device("cpu"))
    stats = attach(s.run, s.spec.probe.model_copy(update={"every": 10, "activations": True}))

    def bare(steps: int) -> list[float]:
        opt = torch.optim.SGD(s.model.parameters(), lr=0.01, momentum=0.9)
        times = []
        for step in range(steps + 1):
            tick = time.perf_counter()
            x, y = s.batches.next()
            loss_fn(s.kind, s.model(x), y).backward()
            if step < steps:
                opt.step()
            opt.zero_grad(set_to_none=True)
            times.append(time.perf_counter() - tick)
        return times

    def probed(steps: int) -> list[float]:
        spec = s.spec.train.model_copy(update={"steps": steps})
        recorder = Recorder(s.model, stats, list(range(0, steps, 10)), s.kind)
        return train(s.model, s.batches, spec, s.kind, recorder, s.device).step_times

    bare(5), probed(5)  # warm-up
    ratios, bare_ms, first = [], [], []
    at: dict[str, list[list[float]]] = {k: [[] for _ in range(10)] for k in ("probed", "bare")}
    with frozen_heap():
        for r in range(args.rounds):
            start = s.snapshot()
            times = {}
            for name, run in (("bare", bare), ("probed", probed))[:: 1 if r % 2 else -1]:
                s.restore(start)
                times[name] = run(args.block)
            b, q = times["bare"], times["probed"]
            step = statistics.median(b)
            ratios.append(sum(q) / sum(b))
            bare_ms.append(1e3 * step)
            first.append((q[0] - b[0]) / step)
            for i in range(1, args.block):
                at["probed"][i % 10].append(q[i] / step)
                at["bare"][i % 10].append(b[i] / step)
    print(
        f"{args.model}: bare step {statistics.median(bare_ms):.2f} ms, block ratio "
        f"{statistics.median(ratios):.4f}, the block's first probe +{statistics.median(first):.3f}"
    )
    for i in range(10):
        probed_i, bare_i = (statistics.median(at[k][i]) for k in ("probed", "bare"))
        print(f"  position {i}: probed loop {probed_i:.4f}  bare loop {bare_i:.4f}")


if __name__ == "__main__":
    main()
