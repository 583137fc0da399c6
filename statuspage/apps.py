from django.apps import AppConfig


class StatuspageConfig(AppConfig):
    name = "statuspage"
    verbose_name = "Status page"

    def ready(self):
        from lanes import registry
        from lanes.pokes import LIVE
        from statuspage import notify

        # Notices go out in the order they were queued; a pause stops them.
        registry.register_kind(
            lane=LIVE,
            kind="status-page notices",
            depth=notify.pending_notices,
            drainer=notify.DELIVER,
            honours=[registry.PAUSE],
        )
        registry.register_schedule(
            name="statuspage: deliver notices",
            lane=LIVE,
            func=notify.DELIVER,
            minutes="STATUSPAGE_NOTICE_SCHEDULE_MINUTES",
            safety_net_for=("status-page notices",),
        )
        # Periodic work, not a queue: it keeps running while the live lane is paused (maintenance windows
        # open and close on time; the monitor reports the paused lane's growing age).
        registry.register_schedule(
            name="statuspage: maintenance windows",
            lane=LIVE,
            func="statuspage.services.maintenance_tick",
            minutes="STATUSPAGE_MAINTENANCE_TICK_MINUTES",
        )
        registry.register_schedule(
            name="statuspage: queue monitor",
            lane=LIVE,
            func="statuspage.queue_monitor.measure",
            minutes="STATUSPAGE_QUEUE_MONITOR_MINUTES",
        )
