"""Server-Sent Events, shared by the sync and async clients: the request that opens a stream
(`GET /v1/jobs/{id}/events`, `GET /v1/studies/{id}/events`), the check of its answer, and a
parser of its lines. No I/O here; the clients read the lines.

An event arrives as a few `field: value` lines closed by a blank line; a line that starts
with ":" is a comment (the server's keep-alive, every 15 s while nothing moves)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from gradprobe.client._transport import Call
from gradprobe.client.errors import GradprobeError, error_from_response

MEDIA = "text/event-stream"
# A stream silent for longer than this (the server's keep-alive is 15 s) is held up on the
# way, by a proxy that buffers: the waits then poll instead.
IDLE_S = 20.0


class EventsUnavailable(GradprobeError):
    """The server answered the events route with something that is not an event stream."""


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event: its name (`status`, `progress`, `cell`, `deleted`), its JSON
    data, and its id."""

    kind: str
    data: Any
    id: str | None = None


def stream_call(path: str, read_timeout: float | None = None) -> Call:
    """GET an event stream; `read_timeout` bounds the wait for each next line (None: the
    client's timeout)."""
    return Call("GET", path, headers={"Accept": MEDIA}, read_timeout=read_timeout)


def check_stream(response: httpx.Response) -> None:
    """Raise the server's error (its body read already), or `EventsUnavailable` if a
    success is not a stream."""
    if not response.is_success:
        raise error_from_response(response)
    media = response.headers.get("content-type", "")
    if response.status_code != 200 or not media.startswith(MEDIA):
        raise EventsUnavailable(f"HTTP {response.status_code} {media or 'no content type'}")


KEEPALIVE = Event(":", None)  # what a comment reads as: a chance to look at the clock


class Parser:
    """Feed it lines; it answers an `Event` when one is complete, `KEEPALIVE` for a
    comment, None otherwise. Data is JSON (ValueError when it is not)."""

    def __init__(self) -> None:
        self.kind, self.data = "message", list[str]()
        self.id: str | None = None

    def feed(self, line: str) -> Event | None:
        if not line:
            if not self.data:
                return None
            event = Event(self.kind, json.loads("\n".join(self.data)), self.id)
            self.kind, self.id, self.data = "message", None, []
            return event
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if not field:
            return KEEPALIVE
        if field == "event":
            self.kind = value
        elif field == "data":
            self.data.append(value)
        elif field == "id":
            self.id = value
        return None
