"""kombu's filesystem transport, made safe for the embedded default.

The stock transport creates a message file and then writes it, unlocked for readers: a
worker polling in that gap reads an empty or truncated message and loses it (kombu #1551).
Here a message is written to a temporary name, fsynced, then renamed into the queue folder
(atomic on POSIX). Names start with zero-padded wall-clock nanoseconds so that sorted
order stays FIFO across restarts. See ../shared/notes/embedded-broker.md.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

ALIAS = "gradprobefs"


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{time.time_ns():020d}_{uuid.uuid4().hex}.{queue}.msg"
        folder = self.data_folder_out
        staging = os.path.join(folder, ".staging")
        os.makedirs(staging, exist_ok=True)
        tmp = os.path.join(staging, name)
        try:
            with open(tmp, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
                f.flush()
                os.fsync(f.fileno())
            os.rename(tmp, os.path.join(folder, name))
        except OSError as exc:
            raise ChannelError(f"cannot add {name!r} to {folder!r}") from exc


class Transport(filesystem.Transport):
    Channel = Channel


def register() -> None:
    TRANSPORT_ALIASES[ALIAS] = f"{__name__}:Transport"
