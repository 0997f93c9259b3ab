"""Django middleware over skewguard's decision core; sync and async (WSGI and ASGI Django)."""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import FileResponse, HttpResponse, StreamingHttpResponse

from ...protocol import (
    Proceed,
    RequestFacts,
    Respond,
    authorize_bust,
    decide,
    route,
    version_endpoint,
)
from ...web.inject import HtmlInjector, should_inject
from .conf import get_guard

_WANTED = {
    "HTTP_X_INERTIA": "x-inertia",
    "HTTP_X_INERTIA_VERSION": "x-inertia-version",
    "HTTP_X_SKEWGUARD_HOLD": "x-skewguard-hold",
    "HTTP_COOKIE": "cookie",
    "HTTP_AUTHORIZATION": "authorization",
    "HTTP_ACCEPT_ENCODING": "accept-encoding",
    "HTTP_IF_NONE_MATCH": "if-none-match",
    "HTTP_IF_MODIFIED_SINCE": "if-modified-since",
    "HTTP_RANGE": "range",
    "HTTP_IF_RANGE": "if-range",
}


def _facts(request) -> RequestFacts:
    meta = request.META
    headers = {name: meta[key] for key, name in _WANTED.items() if key in meta}
    return RequestFacts(
        request.method.upper(),
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

    def __init__(self, get_response):
        self.get_response = get_response
        self.guard = get_guard()
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        state = self.guard._state
        early, extra = self._before(request, state)
        if early is not None:
            return early
        return self._after(request, self.get_response(request), state, extra)

    async def __acall__(self, request):
        state = self.guard._state
        early, extra = self._before(request, state)
        if early is not None:
            return early
        return self._after(request, await self.get_response(request), state, extra)

    def _before(self, request, state):
        guard, settings = self.guard, self.guard.settings
        kind = route(request.path_info, settings)
        if kind == "version":
            return _http(version_endpoint(_facts(request), state.snapshot, settings)), ()
        if kind == "bust":
            refusal = authorize_bust(_facts(request), settings)
            return _http(refusal if refusal is not None else guard.bust()), ()
        if kind in ("static", "client"):
            return self._static(request, state, kind), ()
        decision = decide(_facts(request), state.snapshot, settings)
        if isinstance(decision, Respond):
            return _http(decision), ()
        if "HTTP_X_INERTIA_VERSION" in request.META:
            # skewguard decided this request proceeds: inertia-django's own version check must agree.
            request.META["HTTP_X_INERTIA_VERSION"] = state.snapshot.version
        return None, decision.headers if isinstance(decision, Proceed) else ()

    def _static(self, request, state, kind):
        from ...client import client_name
        from ...web.static import respond

        facts = _facts(request)
        name = request.path_info[len(self.guard.settings.STATIC_URL) :]
        if kind == "client":
            answer = (
                respond(state.client, facts.method, facts.headers, None)
                if name == client_name()
                else None
            )
        else:
            answer = (
                state.static.respond(name.lstrip("/"), facts.method, facts.headers)
                if state.static
                else None
            )
        if answer is None:
            return HttpResponse(b"Not Found", status=404, content_type="text/plain")
        if answer.file is not None and facts.method != "HEAD":
            fh = open(answer.file, "rb")
            fh.seek(answer.offset)
            response = (
                FileResponse(fh) if answer.offset == 0 else HttpResponse(fh.read(answer.length))
            )
        else:
            response = HttpResponse(answer.body)
        response.status_code = answer.status
        for name_, value in answer.headers_for_wsgi():
            response[name_] = value
        return response

    def _after(self, request, response, state, extra):
        guard = self.guard
        for name, value in extra:
            response[name] = value
        if guard.settings.APP_VERSION_HEADER:
            response["X-App-Version"] = state.snapshot.version
        meta = request.META
        fragment = "HTTP_HX_REQUEST" in meta or "HTTP_X_INERTIA" in meta
        if guard.settings.APP_VERSION_MISMATCH == "ignore" or fragment:
            return response
        if not should_inject(
            request.method,
            response.status_code,
            response.get("Content-Type"),
            response.get("Content-Encoding"),
            False,
        ):
            return response
        snippet = guard.bootstrap(meta, state)
        injector = HtmlInjector(snippet)
        if isinstance(response, StreamingHttpResponse):
            if response.is_async:

                async def injected_async(content=response.streaming_content):
                    async for chunk in content:
                        out = injector.feed(bytes(chunk))
                        if out:
                            yield out
                    yield injector.finish()

                response.streaming_content = injected_async()
            else:

                def injected(content=response.streaming_content):
                    for chunk in content:
                        out = injector.feed(bytes(chunk))
                        if out:
                            yield out
                    yield injector.finish()

                response.streaming_content = injected()
            if response.has_header("Content-Length"):
                response["Content-Length"] = str(int(response["Content-Length"]) + len(snippet))
        else:
            response.content = injector.feed(response.content) + injector.finish()
            if response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
        return response
