"""The API's operations as `Call`s, and the parsing of their answers: what the sync and the
async resources share. See docs/api.md for each route."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from gradprobe.api import JobList, JobStatus, StudyList
from gradprobe.client._transport import Call
from gradprobe.spec import JobSpec

M = TypeVar("M", bound=BaseModel)
SpecLike = Mapping[str, Any] | JobSpec
PlotFormat = Literal["png", "svg"]
MEDIA = {"png": "image/png", "svg": "image/svg+xml"}


def parse(model: type[M], response: httpx.Response) -> M:
    return model.model_validate_json(response.content)


def spec_body(spec: SpecLike) -> dict[str, Any]:
    """A spec as JSON: a typed `JobSpec` in full (every default), a mapping as it is."""
    if isinstance(spec, JobSpec):
        return spec.model_dump(mode="json")
    return dict(spec)


def new_idempotency_key() -> str:
    return f"gp-{uuid.uuid4().hex}"


def _job_path(job_id: str, *rest: str) -> str:
    return "/".join(["/v1/jobs", quote(job_id, safe=""), *rest])


def _study_path(study_id: str, *rest: str) -> str:
    return "/".join(["/v1/studies", quote(study_id, safe=""), *rest])


def job_events_path(job_id: str) -> str:
    """GET /v1/jobs/{id}/events: `status`, `progress`, `deleted` (see _sse)."""
    return _job_path(job_id, "events")


def study_events_path(study_id: str) -> str:
    """GET /v1/studies/{id}/events: `cell`, `status` (see _sse)."""
    return _study_path(study_id, "events")


def _names(values: Iterable[str] | str | None) -> str | None:
    if values is None:
        return None
    return values if isinstance(values, str) else ",".join(values)


def create_job(spec: SpecLike, idempotency_key: str | None = None) -> Call:
    """POST /v1/jobs. Always with an Idempotency-Key (a fresh one unless given), so that a
    retry after a lost answer returns the same job rather than a second one."""
    key = idempotency_key or new_idempotency_key()
    headers = {"Idempotency-Key": key}
    return Call("POST", "/v1/jobs", json=spec_body(spec), headers=headers, replayable=True)


def get_job(job_id: str) -> Call:
    return Call("GET", _job_path(job_id))


def list_jobs(status: JobStatus | None, limit: int, cursor: str | None) -> Call:
    params: dict[str, str | int] = {"limit": limit}
    if status is not None:
        params["status"] = status
    if cursor is not None:
        params["cursor"] = cursor
    return Call("GET", "/v1/jobs", params=params)


def cancel_job(job_id: str) -> Call:
    # Cancelling twice ends in the same state: safe to repeat.
    return Call("POST", _job_path(job_id, "cancel"), replayable=True)


def delete_job(job_id: str) -> Call:
    return Call("DELETE", _job_path(job_id))


def job_stats(
    job_id: str,
    layers: Iterable[str] | str | None = None,
    metrics: Iterable[str] | str | None = None,
    max_points: int | None = None,
) -> Call:
    params: dict[str, str | int] = {}
    for name, value in (("layers", _names(layers)), ("metrics", _names(metrics))):
        if value:
            params[name] = value
    if max_points is not None:
        params["max_points"] = max_points
    return Call("GET", _job_path(job_id, "stats"), params=params or None)


def job_plot(job_id: str, name: str, fmt: str) -> Call:
    """GET /v1/jobs/{id}/plots/{name}.{png,svg} (see gradprobe.plots.PLOTS for names)."""
    path = _job_path(job_id, "plots", f"{name}.{fmt}")
    return Call("GET", path, headers={"Accept": MEDIA.get(fmt, "*/*")})


def plot_format(path: str | None, fmt: str | None) -> str:
    """The picture format: as asked, else from the file's suffix, else PNG."""
    if fmt is None and path is not None and path.lower().endswith(".svg"):
        return "svg"
    return fmt or "png"


def validate_spec(spec: SpecLike) -> Call:
    # A dry run stores nothing: safe to repeat.
    return Call("POST", "/v1/specs/validate", json=spec_body(spec), replayable=True)


def list_presets() -> Call:
    return Call("GET", "/v1/presets")


def create_study(body: Mapping[str, Any], idempotency_key: str | None = None) -> Call:
    """POST /v1/studies, with an Idempotency-Key as `create_job`."""
    headers = {"Idempotency-Key": idempotency_key or new_idempotency_key()}
    return Call("POST", "/v1/studies", json=dict(body), headers=headers, replayable=True)


def get_study(study_id: str) -> Call:
    return Call("GET", _study_path(study_id))


def list_studies(limit: int, cursor: str | None) -> Call:
    params: dict[str, str | int] = {"limit": limit}
    if cursor is not None:
        params["cursor"] = cursor
    return Call("GET", "/v1/studies", params=params)


def cancel_study(study_id: str) -> Call:
    return Call("POST", _study_path(study_id, "cancel"), replayable=True)


def study_plot(study_id: str, fmt: str) -> Call:
    """GET /v1/studies/{id}/plots/compare.{png,svg}: the comparison plot."""
    path = _study_path(study_id, "plots", f"compare.{fmt}")
    return Call("GET", path, headers={"Accept": MEDIA.get(fmt, "*/*")})


Page = TypeVar("Page", JobList, StudyList)


class Pages(Generic[Page]):
    """The state of an iteration over a listing (GET /v1/jobs, GET /v1/studies): the cursor,
    and how many items are still wanted (`limit`, None for all). `call(size, cursor)` makes
    the request of one page."""

    def __init__(
        self, call: Callable[[int, str | None], Call], page_size: int, limit: int | None
    ) -> None:
        self.call, self.page_size, self.left = call, page_size, limit
        self.cursor: str | None = None
        self.done = limit is not None and limit <= 0

    def next_call(self) -> Call | None:
        if self.done:
            return None
        size = self.page_size if self.left is None else min(self.page_size, self.left)
        return self.call(size, self.cursor)

    def take(self, page: Page) -> list[Any]:
        items = page.items if self.left is None else page.items[: self.left]
        if self.left is not None:
            self.left -= len(items)
        self.cursor = page.next_cursor
        self.done = not page.next_cursor or self.left == 0
        return items


def job_pages(status: JobStatus | None, page_size: int, limit: int | None) -> Pages[JobList]:
    return Pages(lambda size, cursor: list_jobs(status, size, cursor), page_size, limit)


def study_pages(page_size: int, limit: int | None) -> Pages[StudyList]:
    return Pages(list_studies, page_size, limit)
