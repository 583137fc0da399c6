from django.apps import AppConfig


class LanesConfig(AppConfig):
    name = "lanes"
    verbose_name = "Lanes and re-index"

    def ready(self):
        # Queue operations: the bulk lane's queue source, both lanes' throughput sources (the admin is
        # autodiscovered from lanes/admin.py).
        from lanes import reindex, stats  # noqa: F401
