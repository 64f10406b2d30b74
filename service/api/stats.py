"""`GET /v1/jobs/{id}/stats`: the result document.

Unfiltered, the stored gzip bytes are sent as they are (Content-Encoding: gzip) to a
client that accepts gzip, and decompressed for one that does not; the document is never
parsed and re-serialised for that. Filtered, it is parsed, narrowed (stats_filter) and
compressed again when the client accepts gzip.
"""

from __future__ import annotations

import gzip
import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from gradprobe.result import Result
from service.api import stats_filter
from service.api.deps import JobDep, SessionDep
from service.api.problems import ApiError, responses
from service.store.jobs import result_gz

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


def accepts_gzip(header: str | None) -> bool:
    """Whether an Accept-Encoding header allows gzip (an explicit `gzip` beats `*`)."""
    quality: dict[str, float] = {}
    for part in (header or "").split(","):
        coding, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[coding.lower()] = q
    return quality.get("gzip", quality.get("x-gzip", quality.get("*", 0.0))) > 0


def _send(body: bytes, compressed: bool, gzip_ok: bool) -> Response:
    headers = {"Vary": "Accept-Encoding"}
    if gzip_ok and not compressed:
        body, compressed = gzip.compress(body, compresslevel=6), True
    elif compressed and not gzip_ok:
        body, compressed = gzip.decompress(body), False
    if compressed:
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/json", headers=headers)


STATS_DOC: dict[int | str, dict[str, Any]] = {
    200: {"model": Result, "description": "The result document (PRODUCT.md section 3)."}
}


@router.get(
    "/{job_id}/stats",
    response_class=Response,
    responses={**STATS_DOC, **responses(401, 404, 409, 422, 429)},
    summary="The statistics of a job",
)
def job_stats(
    job: JobDep,
    session: SessionDep,
    layers: Annotated[str | None, Query(description="Layer names, comma-separated.")] = None,
    metrics: Annotated[str | None, Query(description="Metric names, comma-separated.")] = None,
    max_points: Annotated[int | None, Query(ge=2, le=100_000)] = None,
    accept_encoding: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    packed = result_gz(session, job.id)
    if packed is None:
        raise ApiError(409, "no-result", f"job {job.id} is {job.status} and has no result yet")
    gzip_ok = accepts_gzip(accept_encoding)
    wanted_layers, wanted_metrics = stats_filter.names(layers), stats_filter.names(metrics)
    if wanted_layers is None and wanted_metrics is None and max_points is None:
        return _send(packed, compressed=True, gzip_ok=gzip_ok)
    doc = json.loads(gzip.decompress(packed))
    doc = stats_filter.select(doc, wanted_layers, wanted_metrics, max_points)
    body = json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()
    return _send(body, compressed=False, gzip_ok=gzip_ok)
