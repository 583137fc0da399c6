from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self):
        from messaging import webhooks, worker  # noqa: F401  (worker registers the live queue sources)

        webhooks.connect_signals()
