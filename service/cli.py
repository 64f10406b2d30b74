"""`gradprobe-server`: the server's command line (PRODUCT.md section 6).

`up` (the embedded default), `api`, `worker`, `migrate`, `keys`, and `run` (the engine with
no server). torch is imported only by the commands that train (`run`, `worker`), never by
the API process.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gradprobe.errors import SpecError


def _read_spec(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise SystemExit(f"error: {path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise SystemExit(
            f"error: {path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None


def cmd_run(args: argparse.Namespace) -> int:
    from service.report import print_summary
    from worker.run import execute  # imports torch: only this command pays for it

    raw = _read_spec(args.spec)
    try:
        result = execute(raw)
    except SpecError as exc:
        for e in exc.errors:
            print(f"error: {args.spec}: {e.path}: {e.message}", file=sys.stderr)
        return 2
    document = result.model_dump_json(indent=None)
    if args.output:
        args.output.write_text(document)
    print_summary(result)
    if args.output:
        print(f"wrote {args.output} ({len(document):,} bytes)")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from service.settings import get_settings
    from service.store.db import wait_for_store
    from service.store.migrate import upgrade

    s = get_settings()
    s.home.mkdir(parents=True, exist_ok=True)
    wait_for_store(s.store_url, deadline_s=args.wait)
    upgrade(s.store_url)
    print("store migrated to the latest schema")
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run(
        "service.api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        proxy_headers=True,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from service.tasks.worker_main import main as worker_main

    worker_main(queues=args.queues, concurrency=args.concurrency, loglevel=args.loglevel)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from service.embedded import up

    return up(args.host, args.port)


def cmd_keys(args: argparse.Namespace) -> int:
    from service.settings import get_settings
    from service.store.db import session_scope
    from service.store.keys import create_key, list_keys, revoke_key

    with session_scope(get_settings().store_url) as session:
        if args.keys_command == "create":
            try:
                key = create_key(session, args.name, args.tenant)
            except LookupError as exc:
                print(f"error: --tenant: {exc}", file=sys.stderr)
                return 2
            print(f"key {key.id} for tenant {key.tenant_id} (shown once, keep it):")
            print(key.secret)
        elif args.keys_command == "list":
            for k in list_keys(session):
                state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
                print(f"{k.id}  {k.prefix}…  tenant={k.tenant_id}  name={k.name}  {state}")
        elif not revoke_key(session, args.id):
            print(f"error: no key {args.id}", file=sys.stderr)
            return 2
        else:
            print(f"revoked {args.id}")
    return 0


def _add_server_commands(sub: Any) -> None:
    up = sub.add_parser("up", help="the embedded default: the API and one worker, no servers")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000)
    up.set_defaults(func=cmd_up)
    api = sub.add_parser("api", help="the HTTP API (configured by GRADPROBE_* variables)")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    api.set_defaults(func=cmd_api)
    wk = sub.add_parser("worker", help="a Celery worker that runs jobs")
    wk.add_argument("--queues", default=None, help="comma-separated, e.g. gpu,cpu")
    wk.add_argument("--concurrency", type=int, default=1, help="jobs at once (processes)")
    wk.add_argument("--loglevel", default="INFO")
    wk.set_defaults(func=cmd_worker)
    mg = sub.add_parser("migrate", help="create or upgrade the store's schema")
    mg.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the store")
    mg.set_defaults(func=cmd_migrate)
    keys = sub.add_parser("keys", help="API keys: create, list, revoke")
    ksub = keys.add_subparsers(dest="keys_command", required=True)
    create = ksub.add_parser("create", help="create a key (printed once, stored hashed)")
    create.add_argument("--name", required=True)
    create.add_argument("--tenant", default=None, help="an existing tenant id (default: new)")
    ksub.add_parser("list", help="list keys (never the secrets)")
    revoke = ksub.add_parser("revoke", help="revoke a key")
    revoke.add_argument("id")
    keys.set_defaults(func=cmd_keys)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gradprobe-server", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    _add_server_commands(sub)
    run = sub.add_parser(
        "run", help="run a spec here, with no server, and write the result document"
    )
    run.add_argument("spec", type=Path, help="the spec, a JSON file (PRODUCT.md section 2)")
    run.add_argument("-o", "--output", type=Path, help="where to write the result document (JSON)")
    run.set_defaults(func=cmd_run)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
