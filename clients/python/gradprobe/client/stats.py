"""Reading a result by layer and by metric: `stats.layer("h3").weight_grad_norm` is that
layer's values over the probed steps (`stats.steps`), None where a value does not apply.

Columns are found by position in `result.layers`, so a document filtered to some layers
(`stats(layers=[...])`) reads the same way as the whole one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, overload

from gradprobe.result import LayerInfo, Result, Series, Summary

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Array = npt.NDArray[np.float64]


def _numpy() -> Any:
    try:
        import numpy
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("to_numpy() needs numpy: pip install 'gradprobe[numpy]'") from exc
    return numpy


class LayerStats:
    """One layer's statistics; each metric of the result is an attribute (a list over steps)."""

    def __init__(self, stats: Stats, column: int) -> None:
        self._stats, self._column = stats, column
        self.info: LayerInfo = stats.result.layers[column]

    @property
    def name(self) -> str:
        return self.info.name

    def get(self, metric: str) -> Series:
        """The values of `metric` at each probed step (KeyError for an unknown metric)."""
        return [row[self._column] for row in self._stats.result.metrics[metric]]

    def __getattr__(self, metric: str) -> Series:
        if metric.startswith("_"):
            raise AttributeError(metric)
        try:
            return self.get(metric)
        except KeyError:
            raise AttributeError(f"no metric {metric!r} in this result") from None

    def __dir__(self) -> list[str]:
        return [*super().__dir__(), *self._stats.metrics]

    def __repr__(self) -> str:
        return f"LayerStats({self.name!r})"


class Stats:
    """A job's result document, with accessors by layer and by metric."""

    def __init__(self, result: Result) -> None:
        self.result = result

    @property
    def steps(self) -> list[int]:
        return self.result.steps

    @property
    def layers(self) -> list[str]:
        return [la.name for la in self.result.layers]

    @property
    def metrics(self) -> list[str]:
        return list(self.result.metrics)

    @property
    def loss(self) -> Series:
        return self.result.loss

    @property
    def summary(self) -> Summary:
        return self.result.summary

    def _column(self, name: str) -> int:
        """The column of layer `name`; a block name ("h3") means its first layer with weights
        ("h3.linear"), or its only layer."""
        names = self.layers
        if name in names:
            return names.index(name)
        block = [j for j, n in enumerate(names) if n.startswith(name + ".")]
        weighted = [j for j in block if self.result.layers[j].params > 0]
        if weighted or len(block) == 1:
            return (weighted or block)[0]
        raise KeyError(f"no layer {name!r}; layers: {', '.join(names)}")

    def layer(self, name: str) -> LayerStats:
        return LayerStats(self, self._column(name))

    def __iter__(self) -> Iterator[LayerStats]:
        return (LayerStats(self, j) for j in range(len(self.result.layers)))

    def metric(self, name: str) -> dict[str, Series]:
        """`metric` for every layer, in depth order: {layer name: values over the steps}."""
        grid = self.result.metrics[name]
        return {la: [row[j] for row in grid] for j, la in enumerate(self.layers)}

    @overload
    def to_numpy(self, metric: str) -> Array: ...
    @overload
    def to_numpy(self, metric: None = None) -> dict[str, Array]: ...

    def to_numpy(self, metric: str | None = None) -> Array | dict[str, Array]:
        """A metric as a float array of shape (steps, layers), NaN where there is no value;
        without a name, every metric. Needs numpy (`pip install 'gradprobe[numpy]'`)."""
        np_ = _numpy()

        def grid(name: str) -> Array:
            rows = self.result.metrics[name]
            nan = float("nan")
            values = [[nan if v is None else v for v in row] for row in rows]
            return np_.asarray(values, dtype=np_.float64).reshape(len(rows), len(self.layers))

        if metric is not None:
            return grid(metric)
        return {name: grid(name) for name in self.result.metrics}

    def __repr__(self) -> str:
        return f"Stats({len(self.layers)} layers x {len(self.steps)} steps)"
