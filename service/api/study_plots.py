"""`GET /v1/studies/{id}/plots/compare.{png,svg}`: the study's variants side by side.

Drawn by gradprobe.plots.compare from the finished cells' result documents, in the thread
pool (a sync route). The picture is cached under the set of finished cells it shows, so it
is redrawn only when another cell finishes.
"""

from __future__ import annotations

import gzip

from fastapi import APIRouter, Response

from gradprobe.plots import Format, render_compare
from gradprobe.result import Result
from service.api.deps import SessionDep
from service.api.plots import IMAGE_DOC, MEDIA, PictureCache
from service.api.problems import ApiError, bad_input, responses
from service.api.studies import StudyDep
from service.api.study_views import ordered_jobs
from service.store.jobs import result_gz
from service.store.studies import study_jobs

router = APIRouter(prefix="/v1/studies", tags=["plots"])
pictures = PictureCache(32)


@router.get(
    "/{study_id}/plots/{plot}",
    response_class=Response,
    responses={**IMAGE_DOC, **responses(401, 404, 409, 429)},
    summary="The comparison plot of a study",
)
def study_plot(study: StudyDep, session: SessionDep, plot: str) -> Response:
    """`plot` is compare.png or compare.svg: the per-layer weight-gradient norms of every
    finished variant at its last probe, overlaid on a log scale, and each variant's
    first/last-layer gradient ratio as a bar on a log scale. 409 while no cell has a result."""
    if plot not in ("compare.png", "compare.svg"):
        raise ApiError(
            404,
            "no-such-plot",
            f"no plot {plot!r}: ask for compare.png or compare.svg",
            errors=[bad_input("path.plot", "compare.png or compare.svg", "enum")],
        )
    fmt: Format = "png" if plot.endswith("png") else "svg"
    pairs = ordered_jobs(study, study_jobs(session, [study.id])[study.id])
    done = [(cell["name"], job.id) for cell, job in pairs if job.summary is not None]
    if not done:
        raise ApiError(409, "no-result", f"no cell of study {study.id} has a result yet")
    key = (study.id, ",".join(job_id for _, job_id in done), fmt)
    picture = pictures.get(key)
    if picture is None:
        results = []
        for name, job_id in done:
            packed = result_gz(session, job_id)
            if packed is not None:
                results.append((name, Result.model_validate_json(gzip.decompress(packed))))
        picture = render_compare(results, fmt)
        pictures.put(key, picture)
    return Response(picture, media_type=MEDIA[fmt], headers={"Cache-Control": "no-cache"})
