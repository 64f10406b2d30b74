"""`plot`: the server's picture (or one drawn here) written to a file."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.cli.conftest import Cli, Server
from tests.client.factories import problem, result_doc

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 64


def test_fetches_the_png_and_writes_it(cli: Cli, server: Server, tmp_path) -> None:
    server.on("GET", "/v1/jobs/job_1/plots/grad_flow.png", httpx.Response(200, content=PNG))
    out = tmp_path / "flow.png"
    done = cli("plot", "job_1", "grad_flow", "-o", str(out))
    assert done.exit_code == 0, done.output
    assert out.read_bytes() == PNG and f"wrote {out}" in done.stdout


def test_the_suffix_picks_svg_and_json_says_what_was_written(
    cli: Cli, server: Server, tmp_path
) -> None:
    server.on("GET", "/v1/jobs/job_1/plots/loss.svg", httpx.Response(200, content=b"<svg/>"))
    out = tmp_path / "loss.svg"
    done = cli("plot", "job_1", "loss", "-o", str(out), "--json")
    assert json.loads(done.stdout) == {
        "job_id": "job_1",
        "plot": "loss",
        "path": str(out),
        "bytes": 6,
    }
    assert server.calls("GET", "/v1/jobs/job_1/plots/loss.svg")[0].headers["accept"] == (
        "image/svg+xml"
    )


def test_the_default_file_is_job_and_name(cli: Cli, server: Server, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    server.on("GET", "/v1/jobs/job_1/plots/profile.png", httpx.Response(200, content=PNG))
    assert cli("plot", "job_1", "profile").exit_code == 0
    assert (tmp_path / "job_1-profile.png").read_bytes() == PNG


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nothing",), "no plot 'nothing'"),
        (("loss", "-o", "loss.jpg"), "name a .png or .svg file"),
    ],
)
def test_usage_errors_exit_2(cli: Cli, server: Server, args: tuple[str, ...], message: str) -> None:
    done = cli("plot", "job_1", *args)
    assert done.exit_code == 2 and message in done.stderr and server.requests == []


def test_a_job_without_a_result_exits_1(cli: Cli, server: Server, tmp_path) -> None:
    answer = problem(409, "no-result", "job job_1 has no result yet")
    server.on("GET", "/v1/jobs/job_1/plots/loss.png", answer)
    done = cli("plot", "job_1", "loss", "-o", str(tmp_path / "x.png"))
    assert done.exit_code == 1 and "no result yet" in done.stderr
    assert not (tmp_path / "x.png").exists()


def test_local_draws_from_the_statistics(cli: Cli, server: Server, tmp_path) -> None:
    server.on("GET", "/v1/jobs/job_1/stats", result_doc())
    out = tmp_path / "flow.png"
    done = cli("plot", "job_1", "grad_flow", "--local", "-o", str(out))
    assert done.exit_code == 0, done.output
    assert out.read_bytes().startswith(b"\x89PNG")
    assert not server.calls("GET", "/v1/jobs/job_1/plots/grad_flow.png")
