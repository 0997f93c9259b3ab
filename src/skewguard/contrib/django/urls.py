from django.urls import path

from . import views

app_name = "skewguard"
urlpatterns = [
    path("version", views.version, name="version"),
    path("cache/bust", views.bust, name="bust"),
]
