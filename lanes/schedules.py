"""django-q2 schedules, upserted from the lanes registry with the intervals the settings give now.

Run at every `migrate` (post_migrate; `manage.py prepare` migrates too) and by restore_migration_data
in tests, never by a flush: a test that empties the database must not bring schedules back due at once.
A schedule is found by its name, so a database made by the old migrations (which created the same
names with the intervals of their day) is brought up to date, and an extra copy of a name is removed.
Its next run is left alone: changing an interval does not make the schedule due.
"""

from django.db.models.signals import post_migrate
from django_q.models import Schedule

from lanes import registry


def upsert_schedules(*, using: str = "default", names: list[str] | None = None) -> list[str]:
    """Create or update every registered schedule (or those named); returns their names."""
    done = []
    for entry in registry.schedules():
        if names is not None and entry.name not in names:
            continue
        wanted = {
            "func": entry.func,
            "schedule_type": Schedule.MINUTES,
            "minutes": entry.interval(),
            "repeats": -1,
            "cluster": entry.lane,
        }
        rows = list(Schedule.objects.using(using).filter(name=entry.name).order_by("pk"))
        if not rows:
            Schedule.objects.using(using).create(name=entry.name, **wanted)
        else:
            keep, *extra = rows
            Schedule.objects.using(using).filter(pk__in=[r.pk for r in extra]).delete()
            if any(getattr(keep, field) != value for field, value in wanted.items()):
                Schedule.objects.using(using).filter(pk=keep.pk).update(**wanted)
        done.append(entry.name)
    return done


def upsert_after_migrate(sender, *, using="default", **kwargs):
    if "plan" not in kwargs:
        return  # a flush (tests emptying the database) sends post_migrate too, without a plan
    upsert_schedules(using=using)


def connect(app_config) -> None:
    post_migrate.connect(upsert_after_migrate, sender=app_config, dispatch_uid="lanes.schedules.upsert")
