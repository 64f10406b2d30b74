"""Many clients waiting on jobs at once (issue 4): what they cost the API and the store.

    python bench/waiters.py --markdown --json out.json          # 10, 50, 100 waiters, both modes
    python bench/waiters.py --waiters 10 --window 20 --modes sse  # a quick check

Production wiring, every server a process of its own on loopback, as bench/api_load.py
starts them (tests/integration/harness): PostgreSQL (fsync on, with pg_stat_statements
loaded to count the statements), Redis with the append-only file, the API as
`gradprobe-server api` runs it, and one `gradprobe-server worker` (one pool process, one
torch thread). The per-tenant limits are raised (GRADPROBE_RATE_PER_S, ...), so that no
waiter is slowed by a 429.

For each mode and each number N of waiters: N long jobs are submitted (the worker runs the
first, which reports progress 4 times a second; the others stay queued), then N waiting
clients start at once, one per job, each a real `gradprobe.AsyncClient` with its own
connection pool, in this process, calling `job.wait()`:

- `poll`: the client's polling wait with its default PollPolicy (first look after 0.5 s,
  then 1.5 times longer each time, capped at 5 s): the client as it waits on a server
  without the event route (its `_follow` yields no events, which is what the wait does
  after a 404 on /events).
- `sse`: `job.wait()` as it is: it follows `GET /v1/jobs/{id}/events`, one long-lived
  request per waiter.

Over `--window` seconds from the start of the waits (and over its steady part, after
`--steady-after` seconds, once the polls reached their cap): the requests the API received
(from its /metrics: `gradprobe_http_requests_total`, the /metrics scrapes left out), the API
process's CPU (1.00 = one core), the store's statements per second from pg_stat_statements
(SELECTs; writes, which are the worker's progress and lease; this script's own queries left
out) and its committed transactions (pg_stat_database.xact_commit). Then every job is
cancelled, and every wait must return the job cancelled within `--drain` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from api_load import ProductionPostgres, cpu_ticks, deployment  # noqa: E402

from gradprobe.api import JobView  # noqa: E402
from gradprobe.client import AsyncClient, PollPolicy  # noqa: E402
from gradprobe.client.job import AsyncJob  # noqa: E402
from tests.integration.harness import Service, wait_for  # noqa: E402

LONG_SPEC: dict[str, Any] = {  # runs for many minutes unless cancelled
    "name": "waited-on",
    "model": {"type": "mlp", "depth": 12, "width": 128},
    "train": {"steps": 100_000, "batch_size": 64, "device": "cpu"},
    "probe": {"every": 10},
}
REQUESTS = re.compile(r"^gradprobe_http_requests_total\{(?P<labels>.*)\} (?P<value>\S+)$")


class StatsPostgres(ProductionPostgres):
    """The benchmark's cluster (fsync on), with pg_stat_statements loaded at start."""

    def _run(self, *argv: str) -> None:
        argv = tuple(
            a + " -c shared_preload_libraries=pg_stat_statements" if a.startswith("-p ") else a
            for a in argv
        )
        super()._run(*argv)


# ---------------------------------------------------------------- counters


@dataclass
class Sample:
    at: float
    api_requests: float
    api_ticks: int
    selects: int
    writes: int
    commits: int
    own_commits: int
    statements: dict[str, int]


class Counters:
    """Reads the API's request count and CPU time and the store's statement counts."""

    def __init__(self, svc: Service, api_pid: int) -> None:
        import psycopg

        self.svc, self.api_pid = svc, api_pid
        dsn = svc.env["GRADPROBE_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
        self.pg = psycopg.connect(dsn, autocommit=True)
        self.pg.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        self.http = httpx.Client(base_url=svc.url, timeout=30)
        self.own_commits = 0

    def sample(self) -> Sample:
        row = self.pg.execute(
            "SELECT"
            " coalesce(sum(calls) FILTER (WHERE query ILIKE 'select%'), 0),"
            " coalesce(sum(calls) FILTER (WHERE query ~* '^(update|insert|delete)'), 0),"
            " (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())"
            " FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND query NOT ILIKE '%pg_stat%'"  # this script's own
        ).fetchone()
        assert row is not None
        statements = {
            query: int(calls)
            for query, calls in self.pg.execute(
                "SELECT query, calls FROM pg_stat_statements"
                " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND query NOT ILIKE '%pg_stat%'"
            )
        }
        self.own_commits += 2
        ticks = cpu_ticks(self.api_pid)
        requests = 0.0
        for line in self.http.get("/metrics").text.splitlines():
            m = REQUESTS.match(line)
            if m and 'route="/metrics"' not in m["labels"]:
                requests += float(m["value"])
        return Sample(
            time.perf_counter(),
            requests,
            ticks,
            int(row[0]),
            int(row[1]),
            int(row[2]),
            self.own_commits,
            statements,
        )

    def close(self) -> None:
        self.pg.close()
        self.http.close()


def rates(a: Sample, b: Sample) -> dict[str, Any]:
    dt = b.at - a.at
    return {
        "seconds": dt,
        "api_requests_per_s": (b.api_requests - a.api_requests) / dt,
        "api_cpu": (b.api_ticks - a.api_ticks) / os.sysconf("SC_CLK_TCK") / dt,
        "store_selects_per_s": (b.selects - a.selects) / dt,
        "store_writes_per_s": (b.writes - a.writes) / dt,
        "store_commits_per_s": ((b.commits - a.commits) - (b.own_commits - a.own_commits)) / dt,
        "top_statements_per_s": {
            " ".join(q.split())[:120]: round((n - a.statements.get(q, 0)) / dt, 2)
            for q, n in sorted(
                b.statements.items(), key=lambda qn: a.statements.get(qn[0], 0) - qn[1]
            )[:12]
        },
    }


# ---------------------------------------------------------------- waiters


async def no_events(path: str, waiter: Any) -> AsyncIterator[Any]:
    """A client's `_follow` when the server has no event route: the wait polls."""
    return
    yield  # an async generator that yields nothing


@dataclass
class Waiter:
    client: AsyncClient
    sent: list[int]
    changes: int = 0


def waiter(svc: Service, mode: str) -> Waiter:
    sent = [0]

    async def count(request: httpx.Request) -> None:
        sent[0] += 1

    http = httpx.AsyncClient(timeout=30, event_hooks={"request": [count]})
    client = AsyncClient(svc.url, svc.key, http_client=http, poll=PollPolicy())
    if mode == "poll":
        client._follow = no_events  # type: ignore[method-assign,assignment]
    return Waiter(client, sent)


async def wait_one(w: Waiter, view: JobView, timeout: float) -> str:
    job = AsyncJob(w.client, view)  # as `jobs.create` hands it out: the wait is what counts

    def changed(_: Any) -> None:
        w.changes += 1

    done = await job.wait(timeout=timeout, progress=changed)
    return str(done.status)


def submit(svc: Service, n: int) -> list[JobView]:
    with svc.client() as http:
        views = []
        for _ in range(n):
            r = http.post("/v1/jobs", json=LONG_SPEC)
            assert r.status_code == 202, r.text
            views.append(JobView.model_validate(r.json()))
        return views


def cancel(svc: Service, ids: list[str]) -> list[dict[str, Any]]:
    """Cancel every job; the answers (the job views)."""
    answers = []
    with svc.client() as http:
        for job_id in ids:
            r = http.post(f"/v1/jobs/{job_id}/cancel")
            assert r.status_code in (202, 409), r.text
            answers.append(r.json())
    return answers


def first_running(svc: Service, job_id: str) -> None:
    with svc.client() as http:

        def moving() -> bool:
            job = http.get(f"/v1/jobs/{job_id}").json()
            return job["status"] == "running" and job["progress"]["step"] > 0

        wait_for(moving, 180, f"job {job_id} to run", every_s=0.2)


async def case(
    args: argparse.Namespace, svc: Service, counters: Counters, mode: str, n: int
) -> dict[str, Any]:
    views = await asyncio.to_thread(submit, svc, n)
    ids = [v.id for v in views]
    await asyncio.to_thread(first_running, svc, ids[0])
    waiters = [waiter(svc, mode) for _ in ids]
    load0 = os.getloadavg()
    start = await asyncio.to_thread(counters.sample)
    tasks = [
        asyncio.create_task(wait_one(w, view, args.window + args.drain + 60))
        for w, view in zip(waiters, views, strict=True)
    ]
    await asyncio.sleep(args.steady_after)
    steady = await asyncio.to_thread(counters.sample)
    await asyncio.sleep(max(0.0, args.window - (time.perf_counter() - start.at)))
    end = await asyncio.to_thread(counters.sample)
    load1 = os.getloadavg()
    sent = sum(w.sent[0] for w in waiters)
    changes = sum(w.changes for w in waiters)
    failed = [t for t in tasks if t.done()]
    assert not failed, f"{len(failed)} waits ended during the window: {failed[0].result()}"
    answers = await asyncio.to_thread(cancel, svc, ids)
    # A cancel the API answered 202 but did not store (seen for the running job at 100
    # polling waiters, see docs/benchmarks.md): flag it in the store, so that the worker stops
    # and every wait can end; counted in the row.
    missed = counters.pg.execute(
        "UPDATE jobs SET cancel_requested = true WHERE id = ANY(%s) AND status = 'running'"
        " AND NOT cancel_requested RETURNING id",
        [ids],
    ).fetchall()
    counters.own_commits += 1
    if missed:
        print(f"  cancels answered but not stored: {missed}", file=sys.stderr)
    drained = time.perf_counter()
    _, pending = await asyncio.wait(tasks, timeout=args.drain)
    drain_s = time.perf_counter() - drained
    if pending:
        left = [job_id for job_id, t in zip(ids, tasks, strict=True) if t in pending]
        with svc.client() as http:
            now = {i: http.get(f"/v1/jobs/{i}").json()["status"] for i in left[:5]}
        stored = counters.pg.execute(
            "SELECT id, status, cancel_requested, step FROM jobs WHERE id = ANY(%s)", [left[:5]]
        ).fetchall()
        print(f"cancel answers: {[a for a in answers if a.get('id') in left][:5]}", file=sys.stderr)
        print(f"in the store: {stored}", file=sys.stderr)
        raise RuntimeError(
            f"{len(pending)} waits still running {args.drain:g} s after the cancel; "
            f"their jobs now: {now}; changes seen {[w.changes for w in waiters][:5]}"
        )
    statuses = [t.result() for t in tasks]
    assert set(statuses) == {"cancelled"}, statuses
    for w in waiters:
        await w.client.aclose()
        await w.client._http.aclose()
    whole, tail = rates(start, end), rates(steady, end)
    row = {
        "mode": mode,
        "waiters": n,
        "window_s": whole["seconds"],
        "whole": whole,
        "steady": tail,
        "client_requests_per_s": sent / whole["seconds"],
        "progress_callbacks": changes,
        "drain_s": drain_s,
        "cancels_not_stored": len(missed),
        "cancel_answers_of_running": [a for a in answers if a.get("status") == "running"],
        "loadavg_start": load0,
        "loadavg_end": load1,
    }
    print(f"  {mode} x{n}: {brief(row)}", file=sys.stderr)
    return row


def brief(row: dict[str, Any]) -> str:
    w, s = row["whole"], row["steady"]
    return (
        f"api {w['api_requests_per_s']:.1f} req/s (steady {s['api_requests_per_s']:.1f}), "
        f"api cpu {w['api_cpu']:.2f} (steady {s['api_cpu']:.2f}), "
        f"store selects {w['store_selects_per_s']:.1f}/s (steady {s['store_selects_per_s']:.1f}), "
        f"writes {w['store_writes_per_s']:.1f}/s, drain {row['drain_s']:.1f} s, "
        f"load {row['loadavg_start'][0]:.1f}->{row['loadavg_end'][0]:.1f}"
    )


async def run_all(args: argparse.Namespace, svc: Service, api_pid: int) -> list[dict[str, Any]]:
    counters = Counters(svc, api_pid)
    try:
        rows = []
        for mode in args.modes:
            for n in args.waiters:
                rows.append(await case(args, svc, counters, mode, n))
        return rows
    finally:
        counters.close()


# ---------------------------------------------------------------- report


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1]
    return f"{os.cpu_count()} cores ({model}), {int(mem) / 2**20:.0f} GiB"


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"{result['machine']}; commit {result['commit']}; a window of {result['window_s']:g} s "
        f"from the start of the waits, steady part after {result['steady_after_s']:g} s.",
        "",
        "| mode | waiters | sent req/s | API req/s | steady req/s | steady req/s per waiter "
        "| API CPU "
        "| steady API CPU | store SELECT/s | steady SELECT/s | store writes/s | commits/s "
        "| load avg (1 min) |",
        "|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in result["rows"]:
        w, s = r["whole"], r["steady"]
        lines.append(
            f"| {r['mode']} | {r['waiters']} | {r['client_requests_per_s']:.1f} "
            f"| {w['api_requests_per_s']:.1f} "
            f"| {s['api_requests_per_s']:.1f} | {s['api_requests_per_s'] / r['waiters']:.3f} "
            f"| {w['api_cpu']:.1%} | {s['api_cpu']:.1%} | {w['store_selects_per_s']:.1f} "
            f"| {s['store_selects_per_s']:.1f} | {w['store_writes_per_s']:.1f} "
            f"| {w['store_commits_per_s']:.1f} "
            f"| {r['loadavg_start'][0]:.1f} → {r['loadavg_end'][0]:.1f} |"
        )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--waiters", default="10,50,100", help="comma-separated numbers of waiters")
    p.add_argument("--modes", default="poll,sse", help="poll, sse or both")
    p.add_argument("--window", type=float, default=45.0, help="measured seconds per case")
    p.add_argument("--steady-after", type=float, default=15.0, help="start of the steady part")
    p.add_argument("--drain", type=float, default=30.0, help="seconds for the waits to end")
    p.add_argument("--keep", action="store_true", help="keep the servers' logs (printed)")
    p.add_argument("--commit", default=None, help="the code measured (default: git HEAD)")
    p.add_argument("--markdown", action="store_true")
    p.add_argument("--json", type=Path, default=None, metavar="PATH")
    args = p.parse_args()
    args.waiters = [int(n) for n in args.waiters.split(",")]
    args.modes = args.modes.split(",")
    assert set(args.modes) <= {"poll", "sse"}, args.modes
    return args


def main() -> None:
    args = parse_args()
    root = Path(tempfile.mkdtemp(prefix="gradprobe-waiters-"))
    pg = StatsPostgres(fsync=True).start()
    commit = (
        args.commit
        or subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
    )
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "commit": commit or "unknown",
        "window_s": args.window,
        "steady_after_s": args.steady_after,
    }
    svc = deployment(root / "waiters", pg)
    try:
        api = svc.start_api()
        worker = svc.start_worker(torch_threads="1")
        svc.wait_worker_ready(worker)
        assert api.popen is not None
        result["rows"] = asyncio.run(run_all(args, svc, api.popen.pid))
    except BaseException:
        print(svc.logs(), file=sys.stderr)
        raise
    finally:
        svc.stop_all()
        pg.stop()
        pg.remove()
        if args.keep:
            print(f"logs kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print(markdown(result) if args.markdown else json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
