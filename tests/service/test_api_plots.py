"""`GET /v1/jobs/{id}/plots/{name}.{png,svg}` for a finished job, and its errors."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from matplotlib.image import imread

from gradprobe.plots import DPI, PLOTS, SIZE

Headers = dict[str, str]


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_every_plot_of_a_finished_job_is_served_as_png_and_svg(
    client: TestClient, alice: Headers, finished_job: str, name: str
) -> None:
    url = f"/v1/jobs/{finished_job}/plots/{name}"
    png = client.get(f"{url}.png", headers=alice)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    pixels = imread(io.BytesIO(png.content), format="png")
    assert pixels.shape[:2] == (round(SIZE[1] * DPI), round(SIZE[0] * DPI))
    assert pixels[..., :3].std() > 0.05  # not a blank canvas
    svg = client.get(f"{url}.svg", headers=alice)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content
    assert client.get(f"{url}.png", headers=alice).content == png.content  # cached, same


def test_plot_errors(
    client: TestClient,
    alice: Headers,
    bob: Headers,
    finished_job: str,
    submit: Callable[..., dict[str, Any]],
) -> None:
    done = f"/v1/jobs/{finished_job}/plots"
    for bad in ("nope.png", "grad_flow.gif", "grad_flow"):
        r = client.get(f"{done}/{bad}", headers=alice)
        assert r.status_code == 404 and r.json()["errors"][0]["path"] == "path.plot", bad
    assert client.get(f"{done}/loss.png", headers=bob).status_code == 404  # another tenant
    assert client.get(f"{done}/loss.png").status_code == 401
    queued = submit()
    r = client.get(f"/v1/jobs/{queued['id']}/plots/loss.png", headers=alice)
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem")
