from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging and lanes"

    def ready(self):
        # Queue operations: registers the bulk lane's queue and throughput sources and the live lane's
        # throughput source (messaging.lane_stats).
        from messaging import lane_stats, reindex  # noqa: F401
