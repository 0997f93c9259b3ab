from django.contrib import admin
from django.shortcuts import render
from django.urls import include, path

urlpatterns = [
    path("", lambda request: render(request, "page.html")),
    path("admin/", admin.site.urls),
    path("ops/", include("skewguard.contrib.django.urls")),
]
