"""The route class of every router (API and pages): a sync endpoint ends its request's write
transaction in its own thread, the moment it returns.

FastAPI runs a sync endpoint in a worker thread and the request session's exit (the commit)
later, in another thread hop, after the event loop has serialised the answer. Under a rush the
event loop has dozens of requests to attend to first, and all that time the transaction held
SQLite's one write lock (every other save queued behind it) or PostgreSQL's row locks. Here the
endpoint is wrapped so that ``api.deps.end_write`` commits in the endpoint's thread instead; an
error raised by the endpoint rolls its write back there, even when a page route turns the
refusal into a page rather than letting it reach the session's exit. The write is committed
before the answer is serialised: an answer that fails to serialise (a bug, a 500) follows a
committed write, as an answer lost on the network always could.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute

from api.deps import SAFE_METHODS, end_write

__all__ = ["TransactionRoute", "commits_in_thread", "commits_late"]


def commits_in_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` followed by ``end_write`` in the same thread (a rollback when it raises).
    FastAPI still sees the endpoint's own signature (``functools.wraps``), so parameters,
    answer model and docs are unchanged."""

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            result = endpoint(*args, **kwargs)
        except BaseException:
            end_write(commit=False)  # a page route may catch the refusal: nothing half-done stays
            raise
        end_write()
        return result

    return run


def _plain_sync(endpoint: Callable[..., Any]) -> bool:
    # Async endpoints never write through the request session (api.deps._writes); generator
    # endpoints stream, and FastAPI must still see them as generators.
    return not (
        inspect.iscoroutinefunction(endpoint)
        or inspect.isgeneratorfunction(endpoint)
        or inspect.isasyncgenfunction(endpoint)
    )


class TransactionRoute(APIRoute):
    """An ``APIRoute`` whose sync endpoint commits its request's write in its own thread."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if _plain_sync(endpoint):
            endpoint = commits_in_thread(endpoint)
        super().__init__(path, endpoint, **kwargs)


def commits_late(route: APIRoute, methods: list[str]) -> bool:
    """A sync route of an unsafe method that is not a ``TransactionRoute``: its write would
    hold the locks until the session's exit (``api.app`` refuses to start with one)."""
    writes = any(method not in SAFE_METHODS for method in methods)
    return writes and _plain_sync(route.endpoint) and not isinstance(route, TransactionRoute)
