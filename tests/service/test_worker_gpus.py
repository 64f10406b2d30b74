"""Worker pool processes: spreading them over GPUs (GRADPROBE_GPUS) and CPU threads."""

from __future__ import annotations

import os

import pytest
from billiard.process import current_process

from service.tasks.worker_main import pin_gpu


@pytest.mark.parametrize(("index", "expected"), [(0, "2"), (1, "3"), (2, "2")])
def test_pool_process_i_gets_the_ith_gpu(
    monkeypatch: pytest.MonkeyPatch, index: int, expected: str
) -> None:
    monkeypatch.setattr(current_process(), "index", index, raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    pin_gpu("2, 3")
    assert os.environ["CUDA_VISIBLE_DEVICES"] == expected


def test_no_list_leaves_the_devices_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5")
    pin_gpu("")
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "5"


def test_each_pool_process_gets_a_share_of_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    from service.tasks.worker_main import threads_per_job

    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert threads_per_job(0, 4) == 4
    assert threads_per_job(0, 32) == 1
    assert threads_per_job(3, 4) == 3  # configured wins
