"""`GET /v1/jobs/{id}/plots/{name}.{png,svg}`: pictures of a finished job.

Rendered by gradprobe.plots from the stored document in the thread pool (a sync route),
never on the event loop; a job's result never changes once stored, so each picture is
rendered once and kept in a small in-process cache.
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, Response

from gradprobe.plots import PLOTS, Format, render
from gradprobe.result import Result
from service.api.deps import JobDep, SessionDep
from service.api.problems import ApiError, bad_input, responses
from service.store.jobs import result_gz

router = APIRouter(prefix="/v1/jobs", tags=["plots"])
MEDIA = {"png": "image/png", "svg": "image/svg+xml"}
CACHED = 128


class PictureCache:
    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> bytes | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key: tuple[str, str, str], picture: bytes) -> None:
        with self._lock:
            self._items[key] = picture
            while len(self._items) > self.size:
                self._items.popitem(last=False)


pictures = PictureCache(CACHED)
IMAGE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The picture.",
        "content": {media: {"schema": {"type": "string"}} for media in MEDIA.values()},
    }
}


def _parse(plot: str) -> tuple[str, Format]:
    name, _, ext = plot.rpartition(".")
    if ext not in MEDIA or name not in PLOTS:
        raise ApiError(
            404,
            "no-such-plot",
            f"no plot {plot!r}: ask for NAME.png or NAME.svg, NAME one of {', '.join(PLOTS)}",
            errors=[bad_input("path.plot", f"one of {sorted(PLOTS)} with .png or .svg", "enum")],
        )
    return name, "png" if ext == "png" else "svg"


@router.get(
    "/{job_id}/plots/{plot}",
    response_class=Response,
    responses={**IMAGE_DOC, **responses(401, 404, 409, 429)},
    summary="A plot of a job's statistics",
)
def job_plot(job: JobDep, session: SessionDep, plot: str) -> Response:
    """`plot` is NAME.png or NAME.svg, NAME one of grad_flow (layer x step heatmap),
    profile (per-layer norms at the first, middle and last probe), timesteps (RNN
    ||dL/dh_t|| against T - t), loss (loss and accuracy), units (saturated/dead fractions)."""
    name, fmt = _parse(plot)
    key = (job.id, name, fmt)
    picture = pictures.get(key)
    if picture is None:
        packed = result_gz(session, job.id)
        if packed is None:
            raise ApiError(409, "no-result", f"job {job.id} is {job.status} and has no result yet")
        picture = render(Result.model_validate_json(gzip.decompress(packed)), name, fmt)
        pictures.put(key, picture)
    return Response(
        picture, media_type=MEDIA[fmt], headers={"Cache-Control": "private, max-age=3600"}
    )
