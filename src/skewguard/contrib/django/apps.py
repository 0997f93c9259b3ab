from django.apps import AppConfig


class SkewguardConfig(AppConfig):
    name = "skewguard.contrib.django"
    label = "skewguard"
    verbose_name = "skewguard"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks
