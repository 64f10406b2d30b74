"""Stats: a result read by layer and by metric (lists, and numpy arrays)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradprobe.client import Stats
from gradprobe.result import Result
from tests.client.factories import result_doc


def stats(layers: list[int] | None = None) -> Stats:
    return Stats(Result.model_validate(result_doc(layers)))


def test_a_layer_by_name_or_by_block() -> None:
    s = stats()
    assert s.layers == ["h1.linear", "h1.act", "h2.linear", "h2.act", "out.linear"]
    assert s.layer("h2.linear").weight_grad_norm == pytest.approx([0.3, 1.3, 2.3])
    assert s.layer("h2").name == "h2.linear"  # a block means its layer with weights
    assert s.layer("h1.act").weight_grad_norm == [None, None, None]
    assert s.layer("h1.act").act_grad_norm == [2.0, 3.0, 4.0]
    assert s.layer("out").get("act_grad_norm") == [5.0, 6.0, 7.0]
    with pytest.raises(KeyError):
        s.layer("h9")
    with pytest.raises(AttributeError):
        _ = s.layer("h1.linear").no_such_metric


def test_a_filtered_document_reads_by_position() -> None:
    # The server's layer filter keeps each layer's original `index`: 2 and 4 here.
    s = stats(layers=[2, 4])
    assert s.layers == ["h2.linear", "out.linear"]
    assert s.layer("out.linear").weight_grad_norm == pytest.approx([0.5, 1.5, 2.5])


def test_a_metric_for_every_layer() -> None:
    by_layer = stats().metric("weight_grad_norm")
    assert list(by_layer) == stats().layers
    assert by_layer["h1.linear"] == pytest.approx([0.1, 1.1, 2.1])
    assert [la.name for la in stats()] == stats().layers


def test_to_numpy() -> None:
    grid = stats().to_numpy("weight_grad_norm")
    assert grid.shape == (3, 5) and grid.dtype == np.float64
    assert math.isnan(grid[0, 1]) and grid[2, 4] == pytest.approx(2.5)
    every = stats().to_numpy()
    assert set(every) == {"weight_grad_norm", "act_grad_norm"}
    assert every["act_grad_norm"].shape == (3, 5)
