"""Filters of a result document for `GET /v1/jobs/{id}/stats`: some layers, some metrics, and
at most `max_points` probed steps. Works on the parsed JSON (not the Result model), so that
fields added by newer workers pass through untouched.

`max_points` thins the probed-step axis evenly, keeping the first and the last probe, and
applies the same choice of steps to everything indexed by step: `metrics`, `loss`,
`accuracy`, and the rows of `timesteps` and `histograms` (kept when their step is kept).
"""

from __future__ import annotations

from typing import Any

from service.api.problems import ApiError, bad_input

Doc = dict[str, Any]


def names(value: str | None) -> list[str] | None:
    """ "a, b" -> ["a", "b"]; None or blank -> None (no filter)."""
    parts = [p.strip() for p in (value or "").split(",") if p.strip()]
    return parts or None


def _unknown(param: str, wanted: list[str], known: list[str]) -> None:
    missing = [n for n in wanted if n not in set(known)]
    if missing:
        raise ApiError(
            422,
            "invalid-request",
            f"unknown {param}: {', '.join(missing)}",
            errors=[
                bad_input(f"query.{param}", f"{n!r} is not one of: {', '.join(known)}", "unknown")
                for n in missing
            ],
        )


def thin(n: int, m: int) -> list[int]:
    """At most m of the indices 0..n-1, evenly spaced, always the first and the last (m >= 2)."""
    if n <= m:
        return list(range(n))
    return sorted({round(k * (n - 1) / (m - 1)) for k in range(m)})


def keep_layers(doc: Doc, wanted: list[str]) -> None:
    _unknown("layers", wanted, [la["name"] for la in doc["layers"]])
    cols = [j for j, la in enumerate(doc["layers"]) if la["name"] in set(wanted)]
    doc["layers"] = [doc["layers"][j] for j in cols]
    doc["metrics"] = {
        k: [[row[j] for j in cols] for row in grid] for k, grid in doc["metrics"].items()
    }
    if doc.get("histograms"):
        h = doc["histograms"]
        h["counts"] = [[row[j] for j in cols] for row in h["counts"]]
        h["zeros"] = [[row[j] for j in cols] for row in h["zeros"]]
    if doc.get("timesteps") and doc["timesteps"].get("layer") not in set(wanted):
        doc["timesteps"] = None  # they belong to a recurrent layer that was filtered out


def keep_metrics(doc: Doc, wanted: list[str]) -> None:
    _unknown("metrics", wanted, list(doc["metrics"]))
    doc["metrics"] = {k: doc["metrics"][k] for k in wanted}


def _rows_at(block: Doc, keys: tuple[str, ...], kept: set[int]) -> None:
    rows = [i for i, step in enumerate(block["steps"]) if step in kept]
    block["steps"] = [block["steps"][i] for i in rows]
    for key in keys:
        block[key] = [block[key][i] for i in rows]


def keep_points(doc: Doc, max_points: int) -> None:
    steps = doc["steps"]
    rows = thin(len(steps), max_points)
    doc["steps"] = [steps[i] for i in rows]
    doc["metrics"] = {k: [grid[i] for i in rows] for k, grid in doc["metrics"].items()}
    for key in ("loss", "accuracy"):
        if isinstance(doc.get(key), list) and len(doc[key]) == len(steps):
            doc[key] = [doc[key][i] for i in rows]
    kept = set(doc["steps"])
    if doc.get("timesteps"):
        _rows_at(doc["timesteps"], ("grad_norm",), kept)
    if doc.get("histograms"):
        _rows_at(doc["histograms"], ("counts", "zeros"), kept)


def select(
    doc: Doc, layers: list[str] | None, metrics: list[str] | None, max_points: int | None
) -> Doc:
    """The document narrowed in place (and returned); unknown names are a 422 naming the
    query parameter."""
    if layers is not None:
        keep_layers(doc, layers)
    if metrics is not None:
        keep_metrics(doc, metrics)
    if max_points is not None:
        keep_points(doc, max_points)
    return doc
