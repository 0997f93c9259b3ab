from django.urls import path
from inertia import render

urlpatterns = [path("", lambda request: render(request, "Home", props={"likes": 1}))]
