"""ASGI and WSGI callable shapes, written once for every adapter and integration."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from types import TracebackType
from typing import Any, Protocol, TypeAlias

# -- ASGI (asgiref's spec: scope and messages are plain dicts) -------------------------------------
Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]

# -- WSGI (PEP 3333) -------------------------------------------------------------------------------
Environ: TypeAlias = dict[str, Any]
ExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType | None]
WSGIHeaders: TypeAlias = list[tuple[str, str]]
Write: TypeAlias = Callable[[bytes], object]


class StartResponse(Protocol):
    def __call__(
        self, status: str, headers: WSGIHeaders, exc_info: ExcInfo | None = ..., /
    ) -> Write: ...


WSGIApp: TypeAlias = Callable[[Environ, StartResponse], Iterable[bytes]]
