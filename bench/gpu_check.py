"""The CUDA checks, as one prepared script for a machine with a GPU:

    python bench/gpu_check.py            # then: python bench/overhead.py --device cuda

1. every family runs on CUDA in fp32, bf16 and fp16 autocast and gives finite statistics;
2. at initialisation, CUDA fp32 statistics match a CPU fp64 run of the same spec (rtol 1e-3:
   TF32 is off, so the difference is float32 rounding);
3. the number of host syncs during training, counted by torch's sync debug mode, is at most
   a few per probe (the recorder's one copy; fp16's GradScaler adds one per step by design).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch

from worker.run import execute

FAMILIES: list[dict[str, Any]] = [
    {"model": {"type": "mlp", "depth": 20, "activation": "tanh", "norm": "batch"}},
    {"model": {"type": "cnn", "residual": True, "norm": "batch"}},
    {"model": {"type": "unet"}},
    {"model": {"type": "densenet"}},
    {"model": {"type": "rnn", "cell": "lstm"}},
    {"model": {"type": "transformer", "norm_position": "post"}},
]


def finite(result: Any) -> bool:
    values = [v for grid in result.metrics.values() for row in grid for v in row if v is not None]
    return all(math.isfinite(v) for v in values)


def main() -> None:
    assert torch.cuda.is_available(), "no CUDA device"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    print("card:", torch.cuda.get_device_name(), "torch", torch.__version__)
    for spec in FAMILIES:
        name = spec["model"]["type"]
        for precision in ("fp32", "bf16", "fp16"):
            r = execute({**spec, "train": {"steps": 20, "device": "cuda", "precision": precision}})
            assert r.device.startswith("cuda") and finite(r), (name, precision)
            print(f"{name:12s} {precision}: {r.summary.verdict}, {r.timing.step_ms:.2f} ms/step")
        gpu = execute({**spec, "train": {"steps": 0, "device": "cuda"}})
        cpu = execute({**spec, "train": {"steps": 0, "device": "cpu", "precision": "fp64"}})
        for metric in ("weight_grad_norm", "act_grad_norm", "weight_norm"):
            for a, b in zip(gpu.metrics[metric][0], cpu.metrics[metric][0], strict=True):
                assert (a is None) == (b is None)
                if a is not None and b is not None and b > 1e-30:
                    assert abs(a - b) <= 1e-3 * b + 1e-12, (name, metric, a, b)
        print(f"{name:12s} CUDA fp32 == CPU fp64 at init (rtol 1e-3)")
    torch.cuda.set_sync_debug_mode("warn")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = execute(
            {"model": {"type": "mlp", "depth": 50}, "train": {"steps": 100, "device": "cuda"}}
        )
    torch.cuda.set_sync_debug_mode("default")
    syncs = sum("synchroniz" in str(w.message) for w in caught)
    print(f"host syncs in a 100-step run with {len(r.steps)} probes: {syncs}")
    assert syncs <= 3 * len(r.steps) + 5, syncs


if __name__ == "__main__":
    main()
