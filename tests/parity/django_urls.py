"""The Django side of the parity harness: the same four views as the Starlette and Flask apps."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from .harness import PAGE

ADAPTER: Any = None  # the Adapter whose app_calls the views count


def page(request: Any) -> HttpResponse:
    ADAPTER.app_calls += 1
    response = HttpResponse(PAGE)
    response["Content-Length"] = str(len(response.content))
    return response


def inertia(request: Any) -> HttpResponse:
    ADAPTER.app_calls += 1
    response = JsonResponse({"component": "D"})
    response["X-Inertia"] = "true"
    return response


@csrf_exempt
def form(request: Any) -> HttpResponse:
    ADAPTER.app_calls += 1
    return HttpResponseRedirect("/inertia", status=303)


def own(request: Any) -> HttpResponse:
    response = HttpResponse("x")
    response["X-App-Version"] = "app's"
    response["X-App-Stale"] = "app's"
    return response


urlpatterns = [path("", page), path("inertia", inertia), path("form", form), path("own", own)]
