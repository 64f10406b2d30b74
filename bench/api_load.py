"""The service benchmark (issue 3): API throughput and latency under load, beside a trivial
FastAPI ceiling, and submit -> running latency on an idle warm worker.

    python bench/api_load.py --markdown --json out.json
    python bench/api_load.py --rounds 1 --duration 3 --jobs 5      # a quick check

Production wiring, every server a process of its own on loopback (tests/integration/harness):
PostgreSQL as the store (fsync on, as the compose file's), Redis with the append-only file
(appendfsync everysec, as the compose file's) as the broker, and the API under uvicorn as
`gradprobe-server api` starts it. The per-tenant limits are raised through the environment
(GRADPROBE_RATE_PER_S, GRADPROBE_RATE_BURST, GRADPROBE_MAX_ACTIVE_JOBS) so that the
benchmark measures the work of a request, not the 429 answer.

1. Throughput: bench/loadgen.py, in its own process, keeps `--connections` keep-alive
   connections busy (closed loop) for `--duration` seconds after `--warmup` seconds, against
   the ceiling (bench/ceiling.py: a constant 2 KB JSON), `GET /v1/jobs/{id}` (cycling over
   100 stored jobs) and `POST /v1/jobs` (a tiny valid spec; no worker runs: a `Drainer`
   marks the jobs queued for over a second cancelled, as workers that keep up would end
   them). They are interleaved, `--rounds` times; each API figure is divided by the
   ceiling of the same round, and the reported values are medians over the rounds.
   bench/ceiling.py's `/constant-dict` (the dict encoded per request) is a second
   reference.
2. Submit -> running: a fresh database and Redis, the API and one `gradprobe-server worker`;
   once the worker is ready and has run `--warm` jobs, `--jobs` small jobs are submitted one
   at a time, each after the previous finished and a pause. Server side: the job's
   `started_at - created_at`; client side: from sending the POST to the first poll of
   `GET /v1/jobs/{id}` that no longer says queued (polled back to back).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.harness import (  # noqa: E402
    Postgres,
    Proc,
    Redis,
    Service,
    free_port,
    listening,
    wait_for,
)

BENCH = Path(__file__).resolve().parent
SPEC: dict[str, Any] = {
    "model": {"type": "mlp", "depth": 2, "width": 8},
    "train": {"steps": 10, "device": "cpu"},
}
UNLIMITED = {
    "GRADPROBE_RATE_PER_S": "1000000",
    "GRADPROBE_RATE_BURST": "1000000",
    "GRADPROBE_MAX_ACTIVE_JOBS": "1000000",
}
# The share of the ceiling's throughput each must reach (issue 3).
TARGETS = {"get": 0.30, "get_churn": 0.30, "post": 0.15}
LABELS = {
    "ceiling": "ceiling: `GET /constant` (2 KB JSON, encoded once)",
    "ceiling_dict": "reference: `GET /constant-dict` (the same dict, encoded per request)",
    "get": "`GET /v1/jobs/{id}`",
    "get_churn": "`GET /v1/jobs/{id}`, each job's progress moving twice a second",
    "post": "`POST /v1/jobs`",
}
SUBMIT_P50_MS = 50.0


# ---------------------------------------------------------------- servers


class ProductionPostgres(Postgres):
    """The harness's cluster, with fsync on like a production server."""

    def __init__(self, fsync: bool) -> None:
        super().__init__()
        self.fsync = fsync

    def _run(self, *argv: str) -> None:
        if self.fsync:
            argv = tuple(a.replace(" -c fsync=off", "") for a in argv)
        super()._run(*argv)


def redis_everysec(root: Path) -> Redis:
    server = Redis(root)
    argv = server.proc.argv
    argv[argv.index("always")] = "everysec"
    return server.start()


def deployment(root: Path, pg: Postgres) -> Service:
    redis = redis_everysec(root)
    env = {
        "GRADPROBE_DATABASE_URL": pg.new_database(),
        "GRADPROBE_BROKER_URL": redis.url,
        **UNLIMITED,
    }
    svc = Service(root, env)
    svc.procs.append(redis.proc)
    try:
        svc.migrate()
        svc.key = svc.create_key("bench")
    except BaseException:
        svc.stop_all()
        raise
    return svc


def start_ceiling(root: Path) -> tuple[Proc, int]:
    port = free_port()
    argv = [sys.executable, str(BENCH / "ceiling.py"), "--port", str(port)]
    proc = Proc("ceiling", argv, dict(os.environ), root).start()
    wait_for(lambda: listening(port), 60, "the ceiling app")
    return proc, port


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of the whole machine (all cores)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


# ---------------------------------------------------------------- throughput


def raw_request(method: str, path: str, port: int, key: str | None, body: bytes = b"") -> str:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    if key:
        lines.append(f"Authorization: Bearer {key}")
    if body or method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return "\r\n".join(lines) + "\r\n\r\n" + body.decode()


def load(
    args: argparse.Namespace, root: Path, port: int, requests: list[str], ok: list[int], pid: int
) -> dict[str, Any]:
    """One measurement by the load generator in a process of its own."""
    config = root / "loadgen.json"
    config.write_text(
        json.dumps(
            {
                "port": port,
                "requests": requests,
                "connections": args.connections,
                "warmup_s": args.warmup,
                "duration_s": args.duration,
                "ok": ok,
            }
        )
    )
    gen = subprocess.Popen(
        [sys.executable, str(BENCH / "loadgen.py"), str(config)], stdout=subprocess.PIPE
    )
    time.sleep(args.warmup + 0.5)  # CPU use over (most of) the measured window
    ticks0, (busy0, all0), t0 = cpu_ticks(pid), machine_ticks(), time.perf_counter()
    time.sleep(max(0.1, args.duration - 1.0))
    ticks1, (busy1, all1), t1 = cpu_ticks(pid), machine_ticks(), time.perf_counter()
    out, _ = gen.communicate(timeout=args.duration + args.warmup + 60)
    if gen.returncode != 0:
        raise RuntimeError("the load generator failed")
    result: dict[str, Any] = json.loads(out)
    result["server_cpu"] = (ticks1 - ticks0) / os.sysconf("SC_CLK_TCK") / (t1 - t0)
    result["machine_busy"] = (busy1 - busy0) / max(1, all1 - all0)
    bad = {s: n for s, n in result["statuses"].items() if int(s) not in ok}
    if bad:
        print(f"  unexpected statuses: {bad}", file=sys.stderr)
    return result


class Drainer(threading.Thread):
    """Stands in for the workers while no worker runs: every second, the jobs queued for over
    a second are marked cancelled. Otherwise the tenant's active jobs would pile up by the
    thousand, and the count behind GRADPROBE_MAX_ACTIVE_JOBS (service/store/jobs.py
    active_jobs), a scan of them, would slow every POST more the longer the benchmark ran."""

    def __init__(self, database_url: str) -> None:
        super().__init__(name="drainer", daemon=True)
        self.dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
        self.stopped = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.stopped.wait(1.0):
                conn.execute(
                    "UPDATE jobs SET status = 'cancelled', finished_at = now(), updated_at = now()"
                    " WHERE status = 'queued' AND created_at < now() - interval '1 second'"
                )


class Churner(threading.Thread):
    """While `on` is set, the seeded jobs change as running jobs' progress does: each one's
    step moves `per_job_hz` times a second (10 jobs per UPDATE), so that the kept views of
    `GET /v1/jobs/{id}` are dropped and read again as they would be in real use."""

    def __init__(self, database_url: str, ids: list[str], per_job_hz: float = 2.0) -> None:
        super().__init__(name="churner", daemon=True)
        self.dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
        self.ids, self.per_job_hz = ids, per_job_hz
        self.on, self.stopped = threading.Event(), threading.Event()
        self.updates = 0

    def run(self) -> None:
        import psycopg

        batches = [self.ids[i : i + 10] for i in range(0, len(self.ids), 10)]
        pause = 1.0 / (self.per_job_hz * len(batches))
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.stopped.is_set():
                if not self.on.wait(0.1):
                    continue
                for batch in batches:
                    conn.execute(
                        "UPDATE jobs SET step = step + 1, updated_at = now() WHERE id = ANY(%s)",
                        (batch,),
                    )
                    self.updates += len(batch)
                    time.sleep(pause)


def seed_jobs(svc: Service, n: int) -> list[str]:
    with svc.client() as http:
        ids = []
        for _ in range(n):
            r = http.post("/v1/jobs", json=SPEC)
            assert r.status_code == 202, r.text
            ids.append(r.json()["id"])
    return ids


def throughput(args: argparse.Namespace, root: Path, pg: Postgres) -> dict[str, Any]:
    svc = deployment(root / "throughput", pg)
    drainer = Drainer(svc.env["GRADPROBE_DATABASE_URL"])
    churner: Churner | None = None
    try:
        api = svc.start_api()
        ceiling, ceiling_port = start_ceiling(svc.root)
        svc.procs.append(ceiling)
        assert api.popen is not None and ceiling.popen is not None
        port, key = svc.api_port, svc.key
        ids = seed_jobs(svc, 100)
        body = json.dumps(SPEC).encode()
        targets = {
            "ceiling": (ceiling_port, [raw_request("GET", "/constant", ceiling_port, None)], [200]),
            "ceiling_dict": (
                ceiling_port,
                [raw_request("GET", "/constant-dict", ceiling_port, None)],
                [200],
            ),
            "get": (port, [raw_request("GET", f"/v1/jobs/{i}", port, key) for i in ids], [200]),
            "get_churn": (
                port,
                [raw_request("GET", f"/v1/jobs/{i}", port, key) for i in ids],
                [200],
            ),
            "post": (port, [raw_request("POST", "/v1/jobs", port, key, body)], [202]),
        }
        pids = {name: ceiling.popen.pid for name in ("ceiling", "ceiling_dict")}
        pids |= {name: api.popen.pid for name in ("get", "get_churn", "post")}
        churner = Churner(svc.env["GRADPROBE_DATABASE_URL"], ids)
        churner.start()
        drainer.start()
        targets = {name: t for name, t in targets.items() if name in args.targets}
        rounds: list[dict[str, Any]] = []
        for r in range(args.rounds):
            row = {}
            for name, (p, requests, ok) in targets.items():
                if name == "get_churn":
                    churner.on.set()
                updates, start = churner.updates, time.monotonic()
                row[name] = load(args, svc.root, p, requests, ok, pids[name])
                churner.on.clear()
                if name == "get_churn":
                    rate = (churner.updates - updates) / (time.monotonic() - start)
                    row[name]["job_updates_per_s"] = round(rate, 1)
                print(f"  round {r + 1} {name}: {brief(row[name])}", file=sys.stderr)
            rounds.append(row)
        return summarise(rounds)
    finally:
        drainer.stopped.set()
        if churner is not None:
            churner.stopped.set()
        svc.stop_all()


def brief(m: dict[str, Any]) -> str:
    return (
        f"{m['rps']:.0f} req/s, p50 {m['p50_ms']:.1f} ms, p99 {m['p99_ms']:.1f} ms, "
        f"server cpu {m['server_cpu']:.2f}, client cpu {m['client_cpu']:.2f}, "
        f"machine busy {m['machine_busy']:.2f}"
    )


def summarise(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    med = statistics.median
    keys = ("rps", "p50_ms", "p99_ms", "server_cpu", "client_cpu", "machine_busy")
    out: dict[str, Any] = {"rounds": rounds}
    for name in [n for n in LABELS if n in rounds[0]]:
        out[name] = {k: med(r[name][k] for r in rounds) for k in keys}
        out[name]["cpu_us_per_request"] = med(
            r[name]["server_cpu"] / r[name]["rps"] * 1e6 for r in rounds
        )
        ratios = [r[name]["rps"] / r["ceiling"]["rps"] for r in rounds]
        out[name]["ratio"] = med(ratios)
        out[name]["ratios"] = ratios
        # The same share from CPU time per request: what it would be if every server had a
        # core to itself, steadier than req/s on a machine others are using.
        out[name]["cpu_ratio"] = med(
            (r["ceiling"]["server_cpu"] / r["ceiling"]["rps"])
            / (r[name]["server_cpu"] / r[name]["rps"])
            for r in rounds
        )
        if name in TARGETS:
            out[name]["target"] = TARGETS[name]
    return out


# ---------------------------------------------------------------- submit -> running


class Poller:
    """Plain http.client on one keep-alive connection: far less overhead than httpx."""

    def __init__(self, port: int, key: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
        self.conn.request(method, path, body=body, headers=self.headers)
        r = self.conn.getresponse()
        return r.status, json.loads(r.read())


def one_job(poll: Poller, body: bytes) -> dict[str, float]:
    sent = time.perf_counter()
    status, job = poll.call("POST", "/v1/jobs", body)
    accepted = time.perf_counter()
    assert status == 202, job
    path = f"/v1/jobs/{job['id']}"
    seen = None
    while job["status"] not in ("succeeded", "failed", "cancelled"):
        _, job = poll.call("GET", path)
        if seen is None and job["status"] != "queued":
            seen = time.perf_counter()
        time.sleep(0.001)
    assert job["status"] == "succeeded", job
    assert seen is not None
    started = datetime.fromisoformat(job["started_at"])
    created = datetime.fromisoformat(job["created_at"])
    return {
        "server_ms": (started - created).total_seconds() * 1e3,
        "client_ms": (seen - sent) * 1e3,
        "post_ms": (accepted - sent) * 1e3,
    }


def submit_latency(args: argparse.Namespace, root: Path, pg: Postgres) -> dict[str, Any]:
    svc = deployment(root / "latency", pg)
    try:
        svc.start_api()
        svc.wait_worker_ready(svc.start_worker())
        poll = Poller(svc.api_port, svc.key)
        body = json.dumps(SPEC).encode()
        for _ in range(args.warm):
            one_job(poll, body)
            time.sleep(args.pause)
        samples = []
        for i in range(args.jobs):
            samples.append(one_job(poll, body))
            if i % 10 == 9:
                print(f"  {i + 1} jobs: {samples[-1]}", file=sys.stderr)
            time.sleep(args.pause)
        return {
            "jobs": len(samples),
            "samples": samples,
            **{
                f"{k}_{q}": pct([s[k] for s in samples], q)
                for k in ("server_ms", "client_ms", "post_ms")
                for q in ("p50", "p99", "max")
            },
        }
    finally:
        svc.stop_all()


def pct(values: list[float], q: str) -> float:
    ordered = sorted(values)
    at = {"p50": 0.5, "p99": 0.99, "max": 1.0}[q]
    return ordered[min(len(ordered) - 1, int(at * len(ordered)))]


# ---------------------------------------------------------------- report


def markdown(result: dict[str, Any]) -> str:
    lines = []
    t = result.get("throughput")
    if t:
        lines += [
            f"{result['connections']} keep-alive connections, {result['rounds']} interleaved "
            f"rounds of {result['duration_s']:g} s; medians over the rounds.",
            "",
            "| target | req/s | p50 ms | p99 ms | of the ceiling | goal "
            "| server CPU | CPU µs/req | of the ceiling by CPU |",
            "|:--|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for name, label in LABELS.items():
            if name not in t:
                continue
            m = t[name]
            goal = ""
            if "target" in m:
                goal = f"≥ {m['target']:.0%} {'met' if m['ratio'] >= m['target'] else 'missed'}"
            lines.append(
                f"| {label} | {m['rps']:,.0f} | {m['p50_ms']:.1f} | {m['p99_ms']:.1f} "
                f"| {m['ratio']:.0%} | {goal} | {m['server_cpu']:.0%} "
                f"| {m['cpu_us_per_request']:,.0f} | {m['cpu_ratio']:.0%} |"
            )
        per_round = ", ".join(
            f"{name} " + "/".join(f"{x:.0%}" for x in t[name]["ratios"])
            for name in TARGETS
            if name in t
        )
        lines += ["", f"Share of the ceiling in each round: {per_round}.", ""]
    s = result.get("submit")
    if s:

        def goal(p50: float) -> str:
            return "met" if p50 <= SUBMIT_P50_MS else "missed"

        lines += [
            f"Submit → running, {s['jobs']} jobs one at a time on an idle warm worker "
            "(under 100 jobs, p99 is the slowest job):",
            "",
            "| measured | p50 ms | p99 ms | max ms |",
            "|:--|--:|--:|--:|",
            f"| server: `started_at - created_at` | {s['server_ms_p50']:.1f} | "
            f"{s['server_ms_p99']:.1f} | {s['server_ms_max']:.1f} |",
            f"| client: POST sent → first poll not queued | {s['client_ms_p50']:.1f} | "
            f"{s['client_ms_p99']:.1f} | {s['client_ms_max']:.1f} |",
            f"| client: POST round trip | {s['post_ms_p50']:.1f} | {s['post_ms_p99']:.1f} | "
            f"{s['post_ms_max']:.1f} |",
            "",
            f"Goal p50 ≤ {SUBMIT_P50_MS:.0f} ms: server side {goal(s['server_ms_p50'])}, "
            f"client side {goal(s['client_ms_p50'])}.",
        ]
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per target")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--jobs", type=int, default=30, help="jobs for submit -> running")
    p.add_argument("--warm", type=int, default=3, help="jobs run first, not measured")
    p.add_argument("--pause", type=float, default=0.5, help="idle seconds between jobs")
    p.add_argument("--only", choices=("throughput", "submit"), default=None)
    p.add_argument(
        "--targets",
        type=lambda v: ["ceiling", *(n for n in v.split(",") if n != "ceiling")],
        default=list(LABELS),
        help=f"throughput targets, comma-separated, of {','.join(LABELS)} (the ceiling is "
        "always measured: every share is of it)",
    )
    p.add_argument("--no-fsync", action="store_true", help="PostgreSQL with fsync off")
    p.add_argument("--markdown", action="store_true")
    p.add_argument("--json", type=Path, default=None, metavar="PATH")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    root = Path(tempfile.mkdtemp(prefix="gradprobe-bench-"))
    pg = ProductionPostgres(fsync=not args.no_fsync).start()
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "connections": args.connections,
        "rounds": args.rounds,
        "duration_s": args.duration,
        "postgres_fsync": not args.no_fsync,
    }
    try:
        if args.only in (None, "throughput"):
            result["throughput"] = throughput(args, root, pg)
        if args.only in (None, "submit"):
            result["submit"] = submit_latency(args, root, pg)
    finally:
        pg.stop()
        pg.remove()
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print(markdown(result) if args.markdown else json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
