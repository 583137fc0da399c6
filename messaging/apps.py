from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging and lanes"

    def ready(self):
        from messaging import webhooks, worker  # noqa: F401  (worker registers the live queue sources)

        webhooks.connect_signals()

        from messaging import checks

        checks.register()  # production refuses to start without its webhook secrets

        # Queue operations: the bulk lane's queue source, both lanes' throughput sources, their admin.
        from messaging import lane_stats, queue_admin, reindex  # noqa: F401
