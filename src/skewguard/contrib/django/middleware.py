"""Django middleware over skewguard's decision core; sync and async (WSGI and ASGI Django).

It carries out what ``protocol.decide``, ``plan.plan_response`` and ``web.dispatch`` decide, in
Django's response objects. Under a script prefix (``SCRIPT_NAME`` / ``FORCE_SCRIPT_NAME``)
a relative STATIC_URL carries the prefix while ``path_info`` does not: static names are matched
against the full path, then against ``path_info`` (an absolute STATIC_URL); endpoints against
``path_info``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, BinaryIO

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from ...plan import (
    ENVIRON_REQUEST_HEADERS,
    FRAGMENT_ENVIRON,
    ResponseHead,
    ResponsePlan,
    plan_response,
)
from ...protocol import Proceed, RequestFacts, Respond, decide
from ...state import Guard, GuardState
from ...web.dispatch import endpoint_answer, is_root_file, static_answer, static_kind
from ...web.inject import HtmlInjector
from ...web.responder import StaticResponse, read_range
from .conf import get_guard

Headers = tuple[tuple[str, str], ...]
GetResponse = Callable[[HttpRequest], Any]


def _facts(request: HttpRequest) -> RequestFacts:
    meta = request.META
    headers = {name: meta[key] for key, name in ENVIRON_REQUEST_HEADERS.items() if key in meta}
    return RequestFacts(
        (request.method or "GET").upper(),
        request.get_full_path().split("?")[0],
        meta.get("QUERY_STRING", ""),
        headers,
    )


def _http(respond: Respond) -> HttpResponse:
    response = HttpResponse(respond.body, status=respond.status)
    for name, value in respond.headers:
        response[name] = value
    return response


class SkewguardMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse):
        self.get_response = get_response
        self.guard: Guard = get_guard()
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self.__acall__(request)
        state = self.guard.current()
        early, add = self._before(request, state)
        if early is not None:
            return early
        return self._after(request, self.get_response(request), state, add)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        state = self.guard.current()
        endpoint = self.guard.endpoints.get(request.path_info)
        if endpoint is not None and endpoint.blocking:
            # A blocking endpoint (a bust waits on a lock, files and the other workers' answers)
            # runs in a worker thread: on the event loop it would stall every other request.
            answer = sync_to_async(endpoint_answer, thread_sensitive=False)
            return _http(await answer(endpoint, _facts(request), state))
        early, add = self._before(request, state)
        if early is not None:
            return early
        return self._after(request, await self.get_response(request), state, add)

    def _before(
        self, request: HttpRequest, state: GuardState
    ) -> tuple[HttpResponseBase | None, Headers]:
        guard, settings = self.guard, self.guard.settings
        endpoint = guard.endpoints.get(request.path_info)
        if endpoint is not None:
            return _http(endpoint_answer(endpoint, _facts(request), state)), ()
        for path in (request.path, request.path_info):  # STATIC_URL with the prefix, or without
            kind = static_kind(path, settings)
            if kind is not None:
                return _static(state, kind, path[len(settings.STATIC_URL) :], request), ()
        if is_root_file(request.path_info, state):
            return _static(state, "root", request.path_info[1:], request), ()
        decision = decide(_facts(request), state.snapshot, settings)
        guard.note_decision(decision)
        if isinstance(decision, Respond):
            return _http(decision), ()
        if "HTTP_X_INERTIA_VERSION" in request.META:
            # skewguard decided this request proceeds: inertia-django's own version check must agree.
            request.META["HTTP_X_INERTIA_VERSION"] = state.snapshot.version
        return None, decision.headers if isinstance(decision, Proceed) else ()

    def _after(
        self, request: HttpRequest, response: HttpResponseBase, state: GuardState, add: Headers
    ) -> HttpResponseBase:
        guard = self.guard
        settings = guard.settings
        if settings.APP_VERSION_HEADER:
            add = (*add, ("X-App-Version", state.snapshot.version))
        meta = request.META
        content_length = response.get("Content-Length")
        if content_length is None and isinstance(response, HttpResponse):
            content_length = str(len(response.content))  # what Django will send
        head = ResponseHead(
            response.status_code,
            response.get("Content-Type"),
            response.get("Content-Encoding"),
            content_length,
        )
        plan = plan_response(
            (request.method or "GET").upper(),
            head,
            add,
            inject=settings.APP_VERSION_MISMATCH != "ignore",
            fragment=not meta.keys().isdisjoint(FRAGMENT_ENVIRON),
            snippet=lambda: guard.bootstrap(meta, state),
        )
        return _carry_out(plan, response)


def _carry_out(plan: ResponsePlan, response: HttpResponseBase) -> HttpResponseBase:
    for name in plan.drop:
        if response.has_header(name):
            del response[name]
    for name, value in plan.add:
        response[name] = value
    snippet = plan.snippet
    if snippet is not None:
        injector = HtmlInjector(snippet)
        if isinstance(response, StreamingHttpResponse):
            if response.is_async:

                async def injected_async(
                    content: AsyncIterator[bytes] = response.streaming_content,
                ) -> AsyncIterator[bytes]:
                    async for chunk in content:
                        out = injector.feed(bytes(chunk))
                        if out:
                            yield out
                    yield injector.finish()

                response.streaming_content = injected_async()
            else:

                def injected(
                    content: Iterator[bytes] = response.streaming_content,
                ) -> Iterator[bytes]:
                    for chunk in content:
                        out = injector.feed(bytes(chunk))
                        if out:
                            yield out
                    yield injector.finish()

                response.streaming_content = injected()
        elif isinstance(response, HttpResponse):
            response.content = injector.feed(response.content) + injector.finish()
    if plan.content_length is not None and response.has_header("Content-Length"):
        if snippet is not None and isinstance(response, HttpResponse):
            response["Content-Length"] = str(len(response.content))
        else:
            response["Content-Length"] = plan.content_length
    return response


def _static(state: GuardState, kind: str, name: str, request: HttpRequest) -> HttpResponseBase:
    method = (request.method or "GET").upper()
    headers = {k: request.META[e] for e, k in ENVIRON_REQUEST_HEADERS.items() if e in request.META}
    answer, body = static_answer(state, kind, name, method, headers)
    response = _django_response(answer, body)
    response.status_code = answer.status
    for header in ("Content-Type", "Content-Disposition"):  # only what the answer says
        if response.has_header(header):
            del response[header]
    for name_, value in answer.headers_for_wsgi():
        response[name_] = value
    return response


def _django_response(answer: StaticResponse, body: BinaryIO | None) -> HttpResponseBase:
    if body is None:
        return HttpResponse(answer.body)
    if answer.whole_file:  # FileResponse hands the file to wsgi.file_wrapper: whole files only
        return FileResponse(body)
    body.seek(answer.offset)
    return StreamingHttpResponse(read_range(body, answer.length))
