from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self):
        from billing import batches  # noqa: F401  (registers the live lane's "billing batches" queue source)
