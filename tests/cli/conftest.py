"""Fixtures of the CLI tests: a scripted server behind httpx.MockTransport, a clock that
moves only when the client sleeps, and `cli(...)`, which runs the `gradprobe` command in
process with typer's CliRunner, wired to both."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from typer.testing import CliRunner, Result

from gradprobe.cli import app, session
from gradprobe.cli.session import Wiring
from tests.mock_server import FakeTime, Server

URL = "http://gp.test"
Cli = Callable[..., Result]


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
def cli(server: Server, fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """cli(*args, input=None) -> the result of `gradprobe ARGS --url ... --api-key ...`."""
    runner = CliRunner()
    wiring = Wiring(httpx.MockTransport(server), fake_time.sleep, fake_time.clock)
    monkeypatch.setattr(session, "WIRING", wiring)

    def run(*args: str, input: str | None = None) -> Result:
        argv = [*args, "--url", URL, "--api-key", "gp_test"]
        return runner.invoke(app, argv, input=input)

    return run


def no_traceback(result: Result) -> None:
    """An error ends with an exit code and a message: never an exception out of the CLI."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
