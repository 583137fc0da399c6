from django.apps import AppConfig


class StatuspageConfig(AppConfig):
    name = "statuspage"
    verbose_name = "Status page"

    def ready(self):
        from statuspage import notify  # noqa: F401 - registers the notice queue with lanes.pokes
