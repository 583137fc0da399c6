from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self):
        from billing import batches
        from lanes import registry
        from lanes.pokes import LIVE

        # Batches are built oldest request first, whatever the lane's order; a pause stops the builds.
        registry.register_kind(
            lane=LIVE,
            kind="billing batches",
            depth=batches.waiting_batches,
            drainer=batches.DRAIN,
            honours=[registry.PAUSE],
        )
        registry.register_schedule(
            name="billing: build requested batches",
            lane=LIVE,
            func=batches.DRAIN,
            minutes="BILLING_SCHEDULE_MINUTES",
            safety_net_for=("billing batches",),
        )
