"""`submit`, `status`, `list`, `cancel` against a scripted server: output, --json shapes,
exit codes and messages."""

from __future__ import annotations

import json

import httpx

from tests.cli.conftest import Cli, FakeTime, Server, no_traceback
from tests.client.factories import job_view, problem, result_doc

SPEC = {"model": {"type": "mlp", "depth": 3, "width": 8}, "train": {"steps": 20}}


def spec_file(tmp_path, doc: object = SPEC) -> str:  # type: ignore[no-untyped-def]
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_submit_posts_the_spec_with_its_name_and_prints_the_job(
    cli: Cli, server: Server, tmp_path
) -> None:
    server.on("POST", "/v1/jobs", httpx.Response(202, json=job_view("job_7")))
    done = cli("submit", spec_file(tmp_path), "--name", "tiny")
    assert done.exit_code == 0, done.output
    assert "job_7" in done.stdout and "queued" in done.stdout
    assert server.body("POST", "/v1/jobs") == {**SPEC, "name": "tiny"}
    assert server.calls("POST", "/v1/jobs")[0].headers["idempotency-key"]


def test_submit_json_prints_the_job_view(cli: Cli, server: Server, tmp_path) -> None:
    server.on("POST", "/v1/jobs", httpx.Response(202, json=job_view("job_7")))
    done = cli("submit", spec_file(tmp_path), "--json")
    assert done.exit_code == 0
    view = json.loads(done.stdout)
    assert view["id"] == "job_7" and view["status"] == "queued"


def test_submit_reads_standard_input(cli: Cli, server: Server) -> None:
    server.on("POST", "/v1/jobs", httpx.Response(202, json=job_view()))
    done = cli("submit", "-", input=json.dumps(SPEC))
    assert done.exit_code == 0 and server.body("POST", "/v1/jobs") == SPEC


def test_submit_wait_follows_the_job_and_ends_with_the_summary(
    cli: Cli, server: Server, fake_time: FakeTime, tmp_path
) -> None:
    server.on("POST", "/v1/jobs", httpx.Response(202, json=job_view("job_1")))
    server.on(
        "GET",
        "/v1/jobs/job_1",
        job_view("job_1", "running", step=40, loss=2.2),
        job_view("job_1", "succeeded", step=100, loss=2.1),
    )
    server.on("GET", "/v1/jobs/job_1/stats", result_doc())
    done = cli("submit", spec_file(tmp_path), "--wait")
    assert done.exit_code == 0, done.output
    assert "vanishing" in done.stdout and "h2.linear" in done.stdout
    assert "2.3 → 2.1" in done.stdout
    assert fake_time.sleeps, "it polled"


def test_submit_wait_json_has_the_job_and_its_result(cli: Cli, server: Server, tmp_path) -> None:
    server.on("POST", "/v1/jobs", httpx.Response(202, json=job_view("job_1")))
    server.on("GET", "/v1/jobs/job_1", job_view("job_1", "succeeded", step=100))
    server.on("GET", "/v1/jobs/job_1/stats", result_doc())
    done = cli("submit", spec_file(tmp_path), "--wait", "--json")
    assert done.exit_code == 0
    out = json.loads(done.stdout)
    assert out["job"]["status"] == "succeeded"
    assert out["result"]["summary"]["verdict"] == "vanishing"


def test_a_failed_job_exits_1_with_the_servers_error(cli: Cli, server: Server, tmp_path) -> None:
    error = {"type": "worker_lost", "message": "the worker died 3 times"}
    server.on("POST", "/v1/jobs", httpx.Response(202, json=job_view("job_1")))
    server.on("GET", "/v1/jobs/job_1", job_view("job_1", "failed", error=error))
    done = cli("submit", spec_file(tmp_path), "--wait")
    assert done.exit_code == 1
    assert "worker_lost: the worker died 3 times" in done.stderr
    no_traceback(done)


def test_a_cancelled_job_exits_1(cli: Cli, server: Server, tmp_path) -> None:
    server.on("POST", "/v1/jobs", httpx.Response(202, json=job_view("job_1")))
    server.on("GET", "/v1/jobs/job_1", job_view("job_1", "cancelled"))
    done = cli("submit", spec_file(tmp_path), "--wait")
    assert done.exit_code == 1 and "was cancelled" in done.stderr


def test_wait_timeout_exits_4_and_says_how_to_follow(cli: Cli, server: Server, tmp_path) -> None:
    server.on("POST", "/v1/jobs", httpx.Response(202, json=job_view("job_1")))
    server.on("GET", "/v1/jobs/job_1", job_view("job_1", "running", step=3))
    done = cli("submit", spec_file(tmp_path), "--wait", "--timeout", "5")
    assert done.exit_code == 4
    assert "still running after 5 s" in done.stderr and "gradprobe status job_1" in done.stderr


def test_a_missing_spec_file_is_named(cli: Cli, server: Server, tmp_path) -> None:
    missing = str(tmp_path / "nope.json")
    done = cli("submit", missing)
    assert done.exit_code == 2
    assert f"cannot read spec file {missing}: no such file" in done.stderr
    assert server.requests == []
    no_traceback(done)


def test_a_spec_file_that_is_not_a_json_object(cli: Cli, tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    done = cli("submit", str(bad))
    assert done.exit_code == 2 and f"spec file {bad} is not valid JSON (line 1" in done.stderr
    done = cli("submit", spec_file(tmp_path, [1, 2]))
    assert done.exit_code == 2 and "must hold a JSON object, not list" in done.stderr
    done = cli("submit", str(tmp_path))
    assert done.exit_code == 2 and "it is a directory" in done.stderr


def test_file_errors_in_json_mode_are_json(cli: Cli, tmp_path) -> None:
    done = cli("submit", str(tmp_path / "nope.json"), "--json")
    assert done.exit_code == 2
    assert "no such file" in json.loads(done.stdout)["error"]["message"]


def test_status_prints_the_job(cli: Cli, server: Server) -> None:
    server.on("GET", "/v1/jobs/job_1", job_view("job_1", "succeeded", step=100, loss=2.1))
    done = cli("status", "job_1")
    assert done.exit_code == 0
    for text in ("job_1", "succeeded", "step 100/100", "vanishing", "shrinks x0.6"):
        assert text in done.stdout
    assert json.loads(cli("status", "job_1", "--json").stdout)["summary"]["verdict"] == "vanishing"


def test_not_found_exits_1_with_the_problem(cli: Cli, server: Server) -> None:
    server.on("GET", "/v1/jobs/job_x", problem(404, "job-not-found", "no job job_x"))
    done = cli("status", "job_x")
    assert done.exit_code == 1 and "(HTTP 404): no job job_x" in done.stderr
    no_traceback(done)
    error = json.loads(cli("status", "job_x", "--json").stdout)["error"]
    assert error["status"] == 404 and error["type"] == "urn:gradprobe:problem:job-not-found"


def test_a_bad_key_says_how_to_pass_one(cli: Cli, server: Server) -> None:
    server.on("GET", "/v1/jobs/job_1", problem(401, "unauthorized", "the API key is not valid"))
    done = cli("status", "job_1")
    assert done.exit_code == 1 and "GRADPROBE_API_KEY" in done.stderr


def test_an_unreachable_server_exits_3(cli: Cli, server: Server) -> None:
    server.on("GET", "/v1/jobs/job_1", httpx.ConnectError("connection refused"))
    done = cli("status", "job_1")
    assert done.exit_code == 3 and "cannot reach the service" in done.stderr
    assert len(server.requests) == 4, "the client retried first"
    no_traceback(done)


def test_list_passes_the_filters_and_prints_a_table(cli: Cli, server: Server) -> None:
    page = {"items": [job_view("job_1", "succeeded"), job_view("job_2")], "next_cursor": None}
    server.on("GET", "/v1/jobs", page)
    done = cli("list", "--status", "succeeded", "--limit", "5")
    assert done.exit_code == 0, done.output
    assert "job_1" in done.stdout and "job_2" in done.stdout
    params = server.calls("GET", "/v1/jobs")[0].url.params
    assert params["status"] == "succeeded" and params["limit"] == "5"
    assert [j["id"] for j in json.loads(cli("list", "--json").stdout)] == ["job_1", "job_2"]


def test_list_refuses_an_unknown_status(cli: Cli, server: Server) -> None:
    done = cli("list", "--status", "done")
    assert done.exit_code == 2 and server.requests == []


def test_cancel_a_job_that_ended_exits_1(cli: Cli, server: Server) -> None:
    server.on("POST", "/v1/jobs/job_1/cancel", job_view("job_1", "cancelled"))
    assert cli("cancel", "job_1").exit_code == 0
    server.on("POST", "/v1/jobs/job_2/cancel", problem(409, "job-final", "job job_2 has ended"))
    done = cli("cancel", "job_2")
    assert done.exit_code == 1 and "job job_2 has ended" in done.stderr


def test_a_cancelled_job_with_json_prints_one_document(cli: Cli, server: Server, tmp_path) -> None:
    server.on("POST", "/v1/jobs", httpx.Response(202, json=job_view("job_1")))
    server.on("GET", "/v1/jobs/job_1", job_view("job_1", "cancelled"))
    done = cli("submit", spec_file(tmp_path), "--wait", "--json")
    assert done.exit_code == 1
    assert json.loads(done.stdout)["job"]["status"] == "cancelled"


def test_ctrl_c_while_waiting_leaves_the_job_running(cli: Cli, server: Server, tmp_path) -> None:
    def interrupted(request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    server.on("POST", "/v1/jobs", httpx.Response(202, json=job_view("job_1")))
    server.on("GET", "/v1/jobs/job_1", interrupted)
    done = cli("submit", spec_file(tmp_path), "--wait")
    assert done.exit_code == 130
    assert "job job_1 goes on" in done.stderr and "gradprobe cancel job_1" in done.stderr
    assert not server.calls("POST", "/v1/jobs/job_1/cancel")


def test_the_environment_configures_the_connection(
    server: Server, fake_time: FakeTime, monkeypatch
) -> None:
    from typer.testing import CliRunner

    from gradprobe.cli import app, session

    wiring = session.Wiring(httpx.MockTransport(server), fake_time.sleep, fake_time.clock)
    monkeypatch.setattr(session, "WIRING", wiring)
    server.on("GET", "/v1/jobs/job_1", job_view("job_1"))
    env = {"GRADPROBE_URL": "http://env.test:9000", "GRADPROBE_API_KEY": "gp_env"}
    done = CliRunner().invoke(app, ["status", "job_1"], env=env)
    assert done.exit_code == 0, done.output
    request = server.requests[0]
    assert str(request.url) == "http://env.test:9000/v1/jobs/job_1"
    assert request.headers["authorization"] == "Bearer gp_env"
