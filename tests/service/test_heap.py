"""Once the API has started, what start-up made is out of the garbage collector's sight."""

from __future__ import annotations

import gc

from fastapi import FastAPI
from fastapi.testclient import TestClient


def test_the_heap_is_frozen_once_the_app_has_started(app: FastAPI) -> None:
    gc.unfreeze()  # as in a fresh process
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() > 10_000  # the libraries and the app, at least
