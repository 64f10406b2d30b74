"""The ceiling for bench/api_load.py: a trivial FastAPI app with a constant JSON object of
about 2 KB, served by uvicorn exactly as `gradprobe-server api` serves the real API
(service/cli.py cmd_api: one process, loop and http "auto", so uvloop and httptools when
installed, log level info with the access log, proxy headers).

`/constant` sends the JSON encoded once at start-up: the least a FastAPI route can do, so
the ceiling. `/constant-dict` returns the dict and lets FastAPI encode it per request
(`jsonable_encoder`, then `json.dumps`), as a route with no response model does; it is
measured as a second reference.

    python bench/ceiling.py --port 8001
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import uvicorn
from fastapi import FastAPI, Response

# 32 items of about 64 bytes each: 2 KB of JSON once serialised.
PAYLOAD: dict[str, Any] = {
    "items": [{"id": f"item_{i:04d}", "value": i * 0.5, "label": "x" * 21} for i in range(32)]
}
BODY = json.dumps(PAYLOAD, separators=(",", ":")).encode()


def create_app() -> FastAPI:
    app = FastAPI(title="ceiling")

    @app.get("/constant")
    async def constant() -> Response:
        return Response(BODY, media_type="application/json")

    @app.get("/constant-dict")
    async def constant_dict() -> dict[str, Any]:
        return PAYLOAD

    return app


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8001)
    args = p.parse_args()
    uvicorn.run(
        "ceiling:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=1,
        log_level="info",
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
