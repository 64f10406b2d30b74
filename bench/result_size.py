"""The size of a result document for a long, deep run: a 200-layer MLP (depth 200, so 401
graph nodes) trained for 10,000 steps and probed every 10 steps, with every default statistic.

    python bench/result_size.py [--depth 200] [--steps 10000]
"""

from __future__ import annotations

import argparse
import time

from worker.run import execute


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--depth", type=int, default=200)
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--width", type=int, default=16)
    args = p.parse_args()
    start = time.perf_counter()
    result = execute(
        {
            "model": {
                "type": "mlp",
                "depth": args.depth,
                "width": args.width,
                "activation": "tanh",
            },
            "train": {
                "steps": args.steps,
                "batch_size": 32,
                "device": "cpu",
                "optimizer": {"lr": 0.01},
            },
            "probe": {"every": 10},
        }
    )
    document = result.model_dump_json()
    print(
        f"depth {args.depth}: {len(result.layers)} layers, {args.steps} steps, "
        f"{len(result.steps)} probes, {len(document):,} bytes ({time.perf_counter() - start:.0f} s)"
    )


if __name__ == "__main__":
    main()
