"""`gradprobe-server`: the server's command line. For now: `run`, the engine with no server.

torch is imported only inside the commands that train (never by the API process).
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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gradprobe-server", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
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
