"""One set of test bodies for both clients: `Blocking` shows an `AsyncClient` (and the
resources, handles and iterators it returns) with the sync surface, running each awaitable
to completion on one event loop. A test written against `Client` then runs unchanged
against `AsyncClient`, which is how "the two surfaces are the same" is checked."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any, TypeVar

from gradprobe.client import AsyncClient, AsyncJob
from gradprobe.client.jobs import AsyncJobs
from gradprobe.client.specs import AsyncPresets, AsyncSpecs
from gradprobe.client.studies import AsyncStudies

T = TypeVar("T")
ASYNC_TYPES = (AsyncClient, AsyncJob, AsyncJobs, AsyncStudies, AsyncSpecs, AsyncPresets)


async def _await(value: Awaitable[T]) -> T:
    return await value


class Blocking:
    def __init__(self, target: Any, runner: asyncio.Runner) -> None:
        self._target, self._runner = target, runner

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if inspect.ismethod(value):

            @functools.wraps(value)
            def call(*args: Any, **kwargs: Any) -> Any:
                return self._wrap(value(*args, **kwargs))

            return call
        return self._wrap(value)

    def _wrap(self, value: Any) -> Any:
        if inspect.isawaitable(value):
            value = self._runner.run(_await(value))
        if isinstance(value, AsyncIterator):
            return self._drain(value)
        if isinstance(value, ASYNC_TYPES):
            return Blocking(value, self._runner)
        return value

    def _drain(self, items: AsyncIterator[Any]) -> Iterator[Any]:
        while True:
            try:
                item = self._runner.run(_await(items.__anext__()))
            except StopAsyncIteration:
                return
            yield self._wrap(item)

    def __repr__(self) -> str:
        return f"Blocking({self._target!r})"
