"""Every plot renders for real results: non-blank, the documented size, PNG and SVG."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.image import imread

from gradprobe.plots import DPI, PLOTS, SIZE, render
from gradprobe.result import Result
from worker.run import execute

SPECS = {
    "mlp": {
        "name": "a deep tanh MLP",
        "model": {"type": "mlp", "depth": 60, "width": 16, "activation": "tanh"},
        "train": {"steps": 20, "batch_size": 32, "device": "cpu"},
        "probe": {"every": 5},
    },
    "rnn": {
        "model": {"type": "rnn", "cell": "tanh", "hidden": 8},
        "data": {"name": "adding", "length": 10, "samples": 64},
        "train": {"steps": 20, "batch_size": 32, "device": "cpu"},
        "probe": {"every": 5},
    },
}


@pytest.fixture(scope="module")
def results() -> dict[str, Result]:
    return {name: execute(spec) for name, spec in SPECS.items()}


@pytest.fixture(params=sorted(SPECS))
def result(request: pytest.FixtureRequest, results: dict[str, Result]) -> Result:
    return results[request.param]


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_each_plot_is_a_non_blank_png_of_the_expected_size(result: Result, name: str) -> None:
    pixels = imread(io.BytesIO(render(result, name, "png")), format="png")
    assert pixels.shape[:2] == (round(SIZE[1] * DPI), round(SIZE[0] * DPI))
    gray = pixels[..., :3].mean(axis=2)
    assert (gray < 0.5).mean() > 0.002  # text, axes and data, not an empty canvas
    assert np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0).shape[0] > 20  # colour


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_each_plot_is_also_svg(result: Result, name: str) -> None:
    svg = render(result, name, "svg").decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg


def test_the_heatmap_names_layers_and_its_log_scale(results: dict[str, Result]) -> None:
    svg = render(results["mlp"], "grad_flow", "svg").decode()
    for text in ("h1.linear", "out.linear", "log scale", "training step", "a deep tanh MLP"):
        assert text in svg, text


def test_an_unknown_plot_is_a_key_error(result: Result) -> None:
    with pytest.raises(KeyError):
        render(result, "nope")
