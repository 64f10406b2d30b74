"""The API's kept job views: never kept across a change they may have missed."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.api.job_views import EncodedView, JobViews
from service.api.views import job_view
from service.store.changes import VIEW_COLUMNS, conninfo_for

MIGRATION = Path("service/migrations/versions/0005_job_change_notices.py")


def view(body: bytes = b"{}", tenant: str = "t1") -> EncodedView:
    return EncodedView.of(tenant, body)


def listening_views(**kw: int) -> JobViews:
    views = JobViews(**kw)
    views.listening_changed(True)
    return views


def test_nothing_is_kept_until_notices_are_heard() -> None:
    views = JobViews()
    views.keep("j1", view(), views.ticket())
    assert views.get("j1") is None
    views.listening_changed(True)
    views.keep("j1", view(), views.ticket())
    assert views.get("j1") == view()


def test_a_notice_drops_the_view() -> None:
    views = listening_views()
    views.keep("j1", view(), views.ticket())
    views.keep("j2", view(b"[]"), views.ticket())
    views.changed("j1")
    assert views.get("j1") is None
    assert views.get("j2") == view(b"[]")


def test_a_read_that_raced_a_change_of_its_job_is_not_kept() -> None:
    views = listening_views()
    ticket = views.ticket()
    views.changed("j1")  # the job changed while it was being read
    views.keep("j1", view(), ticket)
    assert views.get("j1") is None
    views.keep("j2", view(), ticket)  # another job's read is not affected
    assert views.get("j2") is not None


def test_a_change_heard_before_the_read_started_does_not_block_it() -> None:
    views = listening_views()
    views.changed("j1")
    views.keep("j1", view(), views.ticket())
    assert views.get("j1") is not None


def test_losing_the_notices_forgets_everything_and_stops_keeping() -> None:
    views = listening_views()
    ticket = views.ticket()
    views.keep("j1", view(), ticket)
    views.listening_changed(False)
    assert views.get("j1") is None
    views.keep("j2", view(), views.ticket())
    assert views.get("j2") is None
    views.listening_changed(True)
    views.keep("j3", view(), ticket)  # read before the loss: may have missed a notice
    assert views.get("j3") is None


def test_a_forgotten_change_still_blocks_older_reads() -> None:
    views = listening_views(max_changes=2)
    ticket = views.ticket()
    views.changed("j1")
    views.changed("j2")
    views.changed("j3")  # j1's notice is forgotten: any read older than it is refused
    views.keep("j1", view(), ticket)
    assert views.get("j1") is None
    views.keep("j1", view(), views.ticket())
    assert views.get("j1") is not None


def test_the_oldest_view_goes_when_full() -> None:
    views = listening_views(max_views=2)
    for job in ("j1", "j2", "j3"):
        views.keep(job, view(), views.ticket())
    assert views.get("j1") is None
    assert views.get("j2") is not None and views.get("j3") is not None


def test_etag_follows_the_body() -> None:
    assert view(b'{"a":1}').etag == view(b'{"a":1}').etag != view(b'{"a":2}').etag
    assert view().etag.startswith('"') and view().etag.endswith('"')


class Spy:
    """A stand-in job that records which columns the view reads."""

    def __init__(self) -> None:
        self.read: set[str] = set()
        self.values: dict[str, Any] = {
            "id": "job_1",
            "name": "n",
            "status": "queued",
            "queue": "cpu",
            "created_at": datetime(2026, 1, 1, tzinfo=UTC),
            "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
            "started_at": None,
            "finished_at": None,
            "attempt": 0,
            "cancel_requested": False,
            "step": 0,
            "total_steps": 10,
            "loss": None,
            "summary": None,
            "error": None,
        }

    def __getattr__(self, name: str) -> Any:
        self.read.add(name)
        return self.values[name]


def test_the_view_reads_only_columns_whose_changes_notify() -> None:
    spy = Spy()
    job_view(spy)  # type: ignore[arg-type]
    assert spy.read - {"id"} <= set(VIEW_COLUMNS)  # the id never changes


def test_the_trigger_names_the_same_columns_as_the_code() -> None:
    spec = importlib.util.spec_from_file_location("migration_0005", MIGRATION)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration.VIEW_COLUMNS == VIEW_COLUMNS


def test_only_postgresql_stores_have_notices() -> None:
    assert conninfo_for("sqlite:////tmp/x.db") is None
    info = conninfo_for("postgresql+psycopg://u:secret@db:5432/gp")
    assert info == "postgresql://u:secret@db:5432/gp"


def test_only_dropped_views_are_worth_reading_again_once() -> None:
    views = listening_views()
    views.keep("polled", view(), views.ticket())
    views.changed("polled")
    views.changed("unwatched")  # never kept: nobody is polling it
    assert views.dropped(["polled", "unwatched"]) == ["polled"]
    assert views.dropped(["polled"]) == []
    views.keep("polled", view(), views.ticket())
    views.changed("polled")
    views.listening_changed(False)
    assert views.dropped(["polled"]) == []  # everything is forgotten on a loss
