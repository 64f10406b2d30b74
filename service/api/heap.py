"""The API process's garbage collector, set for a server: ~150,000 objects made at start-up
(FastAPI, pydantic, SQLAlchemy, the routes) live as long as the process, and every request
makes short-lived ones.

With CPython's defaults, the objects of the requests in flight (50 POSTs waiting ~30 ms on
their batch) outlive the young collections and reach the oldest generation, whose
collections then come several times a second and each scan every object of the process:
~80 ms each, 13% of the API's CPU under the POST benchmark (docs/benchmarks.md, fifth pass).
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Once start-up is done: what is loaded by now is frozen, out of the collector's sight
    (it is never freed anyway), so that a full collection scans only what requests made."""
    gc.collect()
    gc.freeze()
