from django.apps import AppConfig


class LanesConfig(AppConfig):
    """The queue platform. Domain apps register their work kinds and schedules with lanes.registry
    from their own ready(); lanes registers its own (re-index rows, lane samples) here."""

    name = "lanes"
    verbose_name = "Lanes and re-index"

    def ready(self):
        from lanes import heartbeats, registry, reindex, schedules, stats
        from lanes.pokes import BULK

        registry.register_kind(
            lane=BULK,
            kind="re-index rows",
            depth=reindex.pending_reindex_rows,
            done_since=reindex.reindexed_rows_since,
            drainer=reindex.RUN_PENDING,
            honours=[registry.PAUSE],
        )
        registry.register_schedule(
            name="queueops: re-index safety net",
            lane=BULK,
            func=reindex.RUN_PENDING,
            minutes="REINDEX_SAFETY_MINUTES",
            safety_net_for=("re-index rows",),
        )
        # Every minute, not a setting: each sample counts what was done in the minute before it.
        registry.register_schedule(name="queueops: lane samples", lane=BULK, func=stats.RECORD_SAMPLES, minutes=1)
        registry.register_schedule(
            name="queueops: purge old heartbeats", lane=BULK, func=heartbeats.PURGE, minutes="HOUSEKEEPING_MINUTES"
        )
        schedules.connect(self)
