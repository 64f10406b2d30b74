"""The HTTP API: `uvicorn --factory service.api.app:create_app`.

Nothing here imports torch (tests/service/test_api_torch_free.py): the API checks specs
with the torch-free contract package and hands jobs to the workers through Celery.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

import gradprobe
from service.api import (
    events,
    health,
    heap,
    jobs,
    plots,
    problems,
    specs,
    stats,
    studies,
    study_events,
    study_plots,
)
from service.api.auth import KeyCache
from service.api.bodylimit import BodyLimit
from service.api.deps import store_limiter
from service.api.job_views import JobViews
from service.api.limits import TokenBuckets
from service.api.metrics import Metrics, MetricsMiddleware
from service.api.openapi import build_openapi
from service.api.submit_batch import SubmitBatcher
from service.settings import Settings, get_settings
from service.store.changes import JobChanges, conninfo_for
from service.tasks.app import make_app

DESCRIPTION = """Instrumented short training runs that show how gradients flow through a network.

Every `/v1` route needs `Authorization: Bearer <API key>`. Errors are RFC 9457
`application/problem+json`; a bad field is named by its JSON path (`$.model.depth`).
See docs/api.md."""


@asynccontextmanager
async def listen_for_changes(app: FastAPI) -> AsyncIterator[None]:
    """Keeps the job views fresh while the app runs (PostgreSQL stores only)."""
    settings: Settings = app.state.settings
    conninfo = conninfo_for(settings.store_url) if settings.job_views else None
    views: JobViews = app.state.job_views
    refresh = partial(jobs.refresh_views, views, settings.store_url)
    changes = conninfo and JobChanges(
        conninfo, views.changed, views.listening_changed, on_batch=refresh
    )
    if changes:
        changes.start()
    try:
        yield
    finally:
        if changes:
            changes.stop()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with listen_for_changes(app):
        heap.settle()  # start-up is done
        yield


def create_app(settings: Settings | None = None) -> FastAPI:
    s = settings or get_settings()
    app = FastAPI(
        title="gradprobe",
        version=gradprobe.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = s
    app.state.celery = make_app(s)
    app.state.keys = KeyCache(s.store_url)
    app.state.store_calls = store_limiter(s.store_url)
    app.state.submits = SubmitBatcher(s, app.state.celery, app.state.store_calls)
    app.state.rates = TokenBuckets(s.rate_per_s, s.rate_burst)
    app.state.job_views = JobViews()
    app.state.metrics = Metrics(s.store_url, app.state.job_views)
    problems.install(app)
    app.state.watcher = events.JobWatcher(s.store_url)
    for module in (jobs, events, stats, plots, studies, study_events, study_plots, specs, health):
        app.include_router(module.router)
    # Added innermost first: metrics see every answer, the 413s included.
    app.add_middleware(BodyLimit, max_bytes=s.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.openapi = partial(build_openapi, app)  # type: ignore[method-assign]
    return app
