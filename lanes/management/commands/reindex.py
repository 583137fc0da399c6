"""`manage.py reindex`: start a re-index job on the bulk lane, or steer and list existing ones."""

from datetime import datetime, time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from lanes import reindex
from lanes.models import ReindexJob, ReindexScope, ReindexState


def _day(value: str) -> datetime:
    try:
        return timezone.make_aware(datetime.combine(datetime.strptime(value, "%Y-%m-%d").date(), time.min))
    except ValueError as exc:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD)") from exc


class Command(BaseCommand):
    help = "Start a re-index (--scope all|clinic|created), or --list, --pause/--resume/--cancel/--rate JOB."

    def add_arguments(self, parser):
        parser.add_argument("--scope", choices=ReindexScope.values, default=ReindexScope.ALL)
        parser.add_argument("--clinic", help="Clinic slug (with --scope clinic).")
        parser.add_argument("--from", dest="created_from", help="First creation day, YYYY-MM-DD (--scope created).")
        parser.add_argument("--to", dest="created_to", help="Day after the last, YYYY-MM-DD (--scope created).")
        parser.add_argument("--rate", type=int, help="Throttle in rows/s (0: no limit).")
        parser.add_argument("--chunk", type=int, help="Messages per chunk.")
        parser.add_argument("--job", type=int, help="The job to --pause, --resume, --cancel or give a new --rate.")
        parser.add_argument("--pause", action="store_true")
        parser.add_argument("--resume", action="store_true")
        parser.add_argument("--cancel", action="store_true")
        parser.add_argument("--reason", default="", help="Why (required with --pause and --cancel; kept in the audit).")
        parser.add_argument("--list", action="store_true", help="List recent jobs.")

    def handle(self, *args, **o):
        if o["list"]:
            return self.list_jobs()
        if o["job"] is not None:
            return self.steer(o)
        clinic = None
        if o["clinic"]:
            # The scope's clinic is whatever ReindexJob.clinic points at (the tenancy), looked up by slug.
            clinic = ReindexJob._meta.get_field("clinic").related_model.objects.filter(slug=o["clinic"]).first()
            if clinic is None:
                raise CommandError(f"No clinic with slug {o['clinic']!r}")
        try:
            job = reindex.reindex_start(
                scope=o["scope"],
                clinic=clinic,
                created_from=_day(o["created_from"]) if o["created_from"] else None,
                created_to=_day(o["created_to"]) if o["created_to"] else None,
                throttle=o["rate"],
                chunk_size=o["chunk"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        if job.state == ReindexState.DONE:
            self.stdout.write(f"Re-index #{job.pk}: nothing in scope, done.")
            return
        self.stdout.write(f"Queued re-index #{job.pk}: {job.total_rows} messages, ids {job.first_id}..{job.last_id}")

    def steer(self, o):
        job = ReindexJob.objects.filter(pk=o["job"]).first()
        if job is None:
            raise CommandError(f"No re-index job #{o['job']}")
        if o["rate"] is not None:
            reindex.reindex_set_throttle(job=job, throttle=o["rate"])
        for move in ("pause", "resume", "cancel"):
            if not o[move]:
                continue
            service = getattr(reindex, f"reindex_{move}")
            try:
                moved = service(job=job, reason=o["reason"]) if move != "resume" else service(job=job)
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
            if not moved:
                raise CommandError(f"Cannot {move} job #{job.pk}: it is {job.state}")
        job.refresh_from_db()
        self.stdout.write(f"#{job.pk} {job.state}, throttle {job.throttle or 'none'}, {job.percent:.1f}% done")

    def list_jobs(self):
        for job in ReindexJob.objects.all()[:20]:
            eta = f", ETA {job.eta_s:.0f}s" if job.eta_s is not None else ""
            self.stdout.write(
                f"#{job.pk} {job.scope:8} {job.state:9} {job.percent:5.1f}% {job.rows_done}/{job.total_rows} rows, "
                f"{job.rows_changed} changed, {job.rows_per_s:.0f} rows/s{eta} {job.waiting}"
            )
