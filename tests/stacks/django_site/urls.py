from django.urls import path
from inertia import render

LIKES = {"n": 0}

urlpatterns = [
    path("", lambda request: render(request, "Home", props={"likes": LIKES["n"]})),
    path("other", lambda request: render(request, "Other", props={"likes": LIKES["n"]})),
]
