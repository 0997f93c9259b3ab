"""``{% load skewguard %}``: ``{% static "css/app.css" %}`` (hashed URL; ``as var`` works),
``{% static_url "..." %}`` (dev: ``?v=<hash>``), ``{% app_version %}``, ``{% skewguard_head %}``
(the client's bootstrap, for pages served without the middleware's injection)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import mark_safe

from ..conf import get_guard

register = template.Library()


@register.simple_tag
def static(path: str) -> str:
    return get_guard().static(path)


@register.simple_tag
def static_url(path: str) -> str:
    return get_guard().static_url(path)


@register.simple_tag
def app_version() -> str:
    return get_guard().version


@register.simple_tag(takes_context=True)
def skewguard_head(context: Any) -> str:
    request = context.get("request")
    tag = get_guard().bootstrap(request.META if request is not None else None).decode()
    return str(mark_safe(tag))
