"""`Studies`: submit a study (one job per cell), follow it, read its comparison table and
plot. Sync only for now; make one with `Studies(client)` (docs/api.md, "Studies").

    studies = Studies(client)
    view = studies.create(preset)              # a StudyCreate body, or a study preset as is
    view = studies.wait(view.id, timeout=900)  # until every cell has ended
    view.table                                 # one StudyRow per finished cell
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.parse import quote

from gradprobe.api import StudyView
from gradprobe.client._transport import Call
from gradprobe.client.client import Client
from gradprobe.client.errors import GradprobeError

FINAL = frozenset({"succeeded", "failed", "cancelled", "partial"})


class StudyWaitTimeout(GradprobeError):
    """`Studies.wait` reached its deadline; the study's cells go on running."""

    def __init__(self, study: StudyView, timeout: float) -> None:
        self.study = study
        self.timeout = timeout
        super().__init__(f"study {study.id} is still {study.status} after {timeout:g} s")


def _path(study_id: str, *rest: str) -> str:
    return "/".join(["/v1/studies", quote(study_id, safe=""), *rest])


class Studies:
    def __init__(self, client: Client) -> None:
        self._client = client

    def _view(self, call: Call) -> StudyView:
        return StudyView.model_validate_json(self._client._send(call).content)

    def create(self, body: Mapping[str, Any], idempotency_key: str | None = None) -> StudyView:
        """POST /v1/studies: a base spec and `grid` or `variants`. Sent with an
        Idempotency-Key, so a retry never makes a second study."""
        key = idempotency_key or f"gp-{uuid.uuid4().hex}"
        headers = {"Idempotency-Key": key}
        call = Call("POST", "/v1/studies", json=dict(body), headers=headers, replayable=True)
        return self._view(call)

    def get(self, study_id: str) -> StudyView:
        return self._view(Call("GET", _path(study_id)))

    def cancel(self, study_id: str) -> StudyView:
        return self._view(Call("POST", _path(study_id, "cancel"), replayable=True))

    def plot(self, study_id: str, fmt: Literal["png", "svg"] = "png") -> bytes:
        """The comparison plot (409 `Conflict` while no cell has a result)."""
        media = "image/png" if fmt == "png" else "image/svg+xml"
        call = Call("GET", _path(study_id, "plots", f"compare.{fmt}"), headers={"Accept": media})
        return bytes(self._client._send(call).content)

    def wait(
        self,
        study_id: str,
        timeout: float = 1800.0,
        progress: Callable[[StudyView], Any] | None = None,
    ) -> StudyView:
        """Poll until every cell has ended (status succeeded, failed, cancelled or partial),
        calling `progress(view)` after each look; `StudyWaitTimeout` at the deadline."""
        client, poll = self._client, self._client.config.poll
        deadline, interval = client._clock() + timeout, poll.first
        while True:
            view = self.get(study_id)
            if progress is not None:
                progress(view)
            if view.status in FINAL:
                return view
            left = deadline - client._clock()
            if left <= 0:
                raise StudyWaitTimeout(view, timeout)
            client._sleep(min(interval, left))
            interval = min(poll.cap, interval * poll.factor)
