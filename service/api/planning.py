"""Planning a posted spec: the torch-free dry run, minus what only a local user may ask for.

`data.upload` names a file path, which is right for `gradprobe-server run` on your own machine
and wrong over HTTP: the API (and its worker) would open any path on the server for whoever
asks. Until uploads are stored by the service itself, an HTTP spec may not name one.
"""

from __future__ import annotations

from typing import Any

from gradprobe.errors import SpecError
from gradprobe.plan import Plan, make_plan, parse_spec
from gradprobe.spec import Caps


def plan_posted(raw: Any, caps: Caps) -> Plan:
    spec = parse_spec(raw)
    if spec.data.name == "upload":
        raise SpecError.at(
            ("data", "path"),
            "the service does not open files on the server: `upload` data runs only with "
            "`gradprobe-server run` on your machine",
            "upload_not_supported",
        )
    return make_plan(spec, caps)
