"""Server answers for the mock-transport tests: job views, pages, problems, results."""

from __future__ import annotations

import json
from typing import Any

import httpx

NOW = "2025-01-01T12:00:00Z"


def job_view(
    job_id: str = "job_1",
    status: str = "queued",
    step: int = 0,
    total: int = 100,
    loss: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": job_id,
        "name": None,
        "status": status,
        "queue": "cpu",
        "created_at": NOW,
        "updated_at": NOW,
        "attempts": 1 if status != "queued" else 0,
        "progress": {"step": step, "total": total, "loss": loss},
        "summary": summary() if status == "succeeded" else None,
        "error": None,
        "links": {
            "self": f"/v1/jobs/{job_id}",
            "stats": f"/v1/jobs/{job_id}/stats",
            "cancel": f"/v1/jobs/{job_id}/cancel",
        },
        "future_field": "an unknown field a newer server might add",
        **extra,
    }


def summary(verdict: str = "vanishing") -> dict[str, Any]:
    return {
        "verdict": verdict,
        "reasons": ["the gradient shrinks x0.6 per layer"],
        "grad_ratio_first_last": 1e-9,
        "decay_per_layer": 0.6,
        "decay_per_timestep": None,
        "loss_drop": 0.01,
        "first_nonfinite_step": None,
    }


LAYERS = [
    ("h1.linear", "linear", 1040),
    ("h1.act", "activation", 0),
    ("h2.linear", "linear", 272),
    ("h2.act", "activation", 0),
    ("out.linear", "linear", 170),
]


def result_doc(layers: list[int] | None = None) -> dict[str, Any]:
    """A result over 3 probed steps; `layers` keeps some columns (as the server's filter does:
    each layer keeps its original `index`)."""
    cols = list(range(len(LAYERS))) if layers is None else layers
    steps = [0, 10, 20]

    def grid(base: float, weighted_only: bool) -> list[list[float | None]]:
        return [
            [None if weighted_only and LAYERS[j][2] == 0 else base * (j + 1) + i for j in cols]
            for i in range(len(steps))
        ]

    return {
        "spec": {"model": {"type": "mlp", "depth": 2, "width": 16}},
        "layers": [
            {"name": LAYERS[j][0], "op": LAYERS[j][1], "index": j, "params": LAYERS[j][2]}
            for j in cols
        ],
        "steps": steps,
        "metrics": {"weight_grad_norm": grid(0.1, True), "act_grad_norm": grid(1.0, False)},
        "loss": [2.3, 2.2, 2.1],
        "accuracy": None,
        "summary": summary(),
        "timing": {"step_ms": 1.0, "probe_overhead": 0.1},
    }


def problem(
    status: int, kind: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> httpx.Response:
    body = {
        "type": f"urn:gradprobe:problem:{kind}",
        "title": "Error",
        "status": status,
        "detail": detail,
        **extra,
    }
    head = {"content-type": "application/problem+json", **(headers or {})}
    return httpx.Response(status, content=json.dumps(body), headers=head)


def study_cell(name: str, job_id: str, status: str, step: int = 0) -> dict[str, Any]:
    progress = {"step": step, "total": 100, "loss": None}
    return {"variant": name, "job_id": job_id, "status": status, "progress": progress}


def study_row(name: str, job_id: str, verdict: str) -> dict[str, Any]:
    return {
        "variant": name,
        "job_id": job_id,
        "verdict": verdict,
        "grad_ratio_first_last": 1e-9 if verdict == "vanishing" else 0.8,
        "decay": 0.6,
        "decay_over": "layer",
        "decay_per_layer": 0.6,
        "decay_per_timestep": None,
        "loss_drop": 0.5,
        "final_accuracy": 0.9,
        "step_ms": 2.5,
    }


def study_view(
    status: str, cells: list[dict[str, Any]], table: list[dict[str, Any]]
) -> dict[str, Any]:
    links = {
        "self": "/v1/studies/st_1",
        "cancel": "/v1/studies/st_1/cancel",
        "compare": "/v1/studies/st_1/plots/compare.png",
    }
    return {
        "id": "st_1",
        "name": "remedies",
        "status": status,
        "created_at": NOW,
        "counts": {},
        "cells": cells,
        "table": table,
        "links": links,
    }


def sse(*items: tuple[str, object], keepalive: bool = True) -> httpx.Response:
    """An event stream as the server sends it: a keep-alive comment, then each event."""
    text = ": keep-alive\n\n" if keepalive else ""
    text += "".join(
        f"id: {i}\nevent: {kind}\ndata: {json.dumps(data)}\n\n"
        for i, (kind, data) in enumerate(items)
    )
    return httpx.Response(200, content=text.encode(), headers={"content-type": "text/event-stream"})
