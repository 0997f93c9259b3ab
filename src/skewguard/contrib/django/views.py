"""``version`` and ``cache/bust`` as Django views (``include("skewguard.contrib.django.urls")``)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ...protocol import authorize_bust, version_endpoint
from .conf import get_guard
from .middleware import _facts, _http


def version(request: HttpRequest) -> HttpResponse:
    guard = get_guard()
    guard.note_beat(request.META.get("QUERY_STRING", ""))
    return _http(version_endpoint(_facts(request), guard.snapshot, guard.settings))


@csrf_exempt  # authenticated by a signed bearer token, not by a session
def bust(request: HttpRequest) -> HttpResponse:
    guard = get_guard()
    refusal = authorize_bust(_facts(request), guard.settings)
    return _http(refusal if refusal is not None else guard.bust())
