"""Bulk sends: one template to a filtered patient list (all patients, those with an appointment tomorrow,
a recall list), made into messages asynchronously by the bulk lane, as one job.

Asking shows how many patients the list holds now (`audience_count`, the preview); creating the job
queues it and pokes the bulk lane, whose `drain` walks the list in patient-id order in chunks of
MESSAGING_BULK_CHUNK, each chunk one transaction: one INSERT of the job's recipients (ON CONFLICT DO
NOTHING on one-bulk-message-per-patient: only the rows inserted now are made into messages, so a job
run again, or two drains of it at once, make nothing more), the messages through messaging.automated
(each recipient's consent checked, set-based; a skipped one keeps its reason), the job's counters. The
messages go at MESSAGING_AUTOMATED_PRIORITY on the live lane, after what people write, at the job's
`send_at`. Cancel stops the job and cancels its messages not yet handed to the carrier.
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, F, Min, QuerySet
from django.utils import timezone

from clinics.appointments import day_bounds
from clinics.models import Appointment, Clinic, Patient
from kalix_site.sql import rows
from kalix_site.transitions import Machine
from lanes.pokes import BULK, poke
from lanes.state import lane_paused
from messaging import templating
from messaging.automated import Candidate, contact_of, make_messages
from messaging.dispatch import DISPATCH
from messaging.events import NewEvent, own_event_id, record_events
from messaging.models import Audience, BulkRecipient, BulkSend, EventKind, EventSource, Message, MessageTemplate
from messaging.sql import BULK_OUTCOMES_SQL, CLAIM_BULK_SQL, ClaimedRecipient

DRAIN = "messaging.bulk.drain"
DRAIN_SECONDS = 20.0
RECALL_MONTHS = 6
State = BulkSend.State

JOB = Machine(
    "bulk send",
    "state",
    {
        "prepare": ({State.QUEUED}, State.PREPARING),
        "finish": ({State.PREPARING}, State.READY),
        "run_again": ({State.READY}, State.QUEUED),
        "cancel": ({State.QUEUED, State.PREPARING, State.READY}, State.CANCELLED),
    },
    states=State.values,
)


def _booked_tomorrow(clinic: Clinic) -> QuerySet[Appointment]:
    start, end = day_bounds(clinic, timezone.localtime(timezone.now(), clinic.tzinfo).date() + timedelta(days=1))
    return Appointment.objects.filter(
        clinic=clinic, status=Appointment.Status.BOOKED, starts_at__gte=start, starts_at__lt=end
    )


def audience_patients(*, clinic: Clinic, audience: str) -> QuerySet[Patient]:
    patients = Patient.objects.filter(clinic=clinic)
    if audience == Audience.TOMORROW:
        return patients.filter(pk__in=_booked_tomorrow(clinic).values("patient_id"))
    if audience == Audience.RECALL:
        since = timezone.now() - timedelta(days=30 * RECALL_MONTHS)
        recent = Appointment.objects.filter(clinic=clinic, starts_at__gte=since).exclude(
            status=Appointment.Status.CANCELLED
        )
        return patients.exclude(pk__in=recent.values("patient_id"))
    return patients


def audience_count(*, clinic: Clinic, audience: str) -> int:
    return audience_patients(clinic=clinic, audience=audience).count()


def check_fits(*, template: MessageTemplate, audience: str) -> None:
    """Appointment merge fields only for a list whose patients each have an appointment (tomorrow's): sent
    to all patients, {appointment_date} came out empty ("see you  ."). ValidationError on `template`."""
    if audience == Audience.TOMORROW:
        return
    used = set(templating.fields_in(template.subject)) | set(templating.fields_in(template.body))
    fields = sorted(used & templating.APPOINTMENT_FIELDS)
    if fields:
        names = " and ".join("{" + name + "}" for name in fields)
        raise ValidationError(
            {
                "template": f"This template uses {names}, which only “{Audience.TOMORROW.label}” can fill in: "
                f"sent to “{Audience(audience).label}” {'they' if len(fields) > 1 else 'it'} would come out empty. "
                "Choose that list, or a template without appointment fields."
            }
        )


def bulk_create(*, clinic: Clinic, template: MessageTemplate, audience: str, send_at=None, created_by=None) -> BulkSend:
    if template is None or template.clinic_id != clinic.pk:
        raise ValidationError({"template": "No such template in this clinic."})
    if audience not in Audience.values:
        raise ValidationError({"audience": "Choose who it goes to."})
    check_fits(template=template, audience=audience)
    with transaction.atomic():
        job = BulkSend.objects.create(
            clinic=clinic,
            template=template,
            audience=audience,
            send_at=send_at or timezone.now(),
            expected=audience_count(clinic=clinic, audience=audience),
            created_by=created_by,
        )
        poke(DRAIN, lane=BULK)
    return job


def bulk_run_again(*, job: BulkSend) -> BulkSend:
    """Walk the list again: patients added since get their message; those who have one get nothing more."""
    with transaction.atomic():
        JOB.move_or_refuse(BulkSend.objects.filter(pk=job.pk), "run_again", "Only a finished job can be run again.")
        poke(DRAIN, lane=BULK)
    job.refresh_from_db()
    return job


def bulk_cancel(*, job: BulkSend, user=None) -> int:
    """Cancel the job and every message of it not yet handed to the carrier; returns messages cancelled."""
    with transaction.atomic():
        JOB.move_or_refuse(BulkSend.objects.filter(pk=job.pk), "cancel", "This job was cancelled already.")
        ids = list(
            Message.objects.filter(pk__in=job.recipients.exclude(message=None).values("message_id"))
            .filter(dispatch__in=DISPATCH.sources("cancel"))
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)
        )
        DISPATCH.move(Message.objects.filter(pk__in=ids), "cancel", updated_at=timezone.now())
        by = f"by {user.get_username()} (bulk send {job.pk})" if user else f"bulk send {job.pk} cancelled"
        record_events(
            NewEvent(pk, EventKind.CANCELLED, own_event_id(pk, "cancelled"), source=EventSource.STAFF, detail=by)
            for pk in ids
        )
    job.refresh_from_db()
    return len(ids)


# --- The bulk lane's work ------------------------------------------------------------------------------


def pending_jobs():
    row = BulkSend.objects.filter(state__in=[State.QUEUED, State.PREPARING]).aggregate(
        n=Count("id"), oldest=Min("updated_at")
    )
    return row["n"], row["oldest"]


def _appointments_tomorrow(job: BulkSend, patient_ids: list[int]) -> dict[int, object]:
    """Each patient's first booked appointment tomorrow, for the appointment merge fields (check_fits
    allows them only for that list); empty for the other lists."""
    if job.audience != Audience.TOMORROW:
        return {}
    booked = _booked_tomorrow(job.clinic).filter(patient_id__in=patient_ids)
    return dict(booked.values("patient_id").annotate(first=Min("starts_at")).values_list("patient_id", "first"))


def _chunk(job: BulkSend, after: int) -> tuple[int, int | None]:
    """Make one chunk of the job's list (patients with id > after); returns (patients walked, last id)."""
    patient_ids = list(
        audience_patients(clinic=job.clinic, audience=job.audience)
        .filter(pk__gt=after)
        .order_by("pk")
        .values_list("pk", flat=True)[: settings.MESSAGING_BULK_CHUNK]
    )
    if not patient_ids:
        return 0, None
    with transaction.atomic():
        if not BulkSend.objects.filter(pk=job.pk, state=State.PREPARING).select_for_update().exists():
            return 0, None  # cancelled meanwhile
        with connection.cursor() as cursor:
            cursor.execute(CLAIM_BULK_SQL, {"job": job.pk, "patients": patient_ids, "clinic": job.clinic_id})
            claimed = rows(cursor, ClaimedRecipient)
        if claimed:
            template, clinic = job.template, job.clinic
            starts = _appointments_tomorrow(job, [c.patient_id for c in claimed])
            candidates = []
            for c in claimed:
                values = templating.values_for(
                    clinic=clinic, first_name=c.first_name, starts_at=starts.get(c.patient_id)
                )
                contact, opted_out = contact_of(c, template.channel)
                candidates.append(
                    Candidate(
                        key=c.id,
                        clinic_id=clinic.pk,
                        patient_id=c.patient_id,
                        channel=template.channel,
                        subject=templating.render(template.subject, values),
                        body=templating.render(template.body, values),
                        contact=contact,
                        opted_out=opted_out,
                        messaging_consent=c.messaging_consent,
                        send_at=job.send_at,
                        tz=clinic.tzinfo,
                    )
                )
            make_messages(candidates)
            with connection.cursor() as cursor:
                cursor.execute(
                    BULK_OUTCOMES_SQL,
                    [
                        [c.key for c in candidates],
                        [c.skipped[:200] for c in candidates],
                        [c.message_id for c in candidates],
                    ],
                )
            made = sum(1 for c in candidates if c.message_id)
            BulkSend.objects.filter(pk=job.pk).update(
                made=F("made") + made, skipped=F("skipped") + len(candidates) - made, updated_at=timezone.now()
            )
    return len(patient_ids), patient_ids[-1]


def run_job(job: BulkSend, deadline: float) -> bool:
    """Walk one job's list; True when it finished (or was cancelled), False when time ran out."""
    import time

    after = 0
    while time.monotonic() < deadline:
        walked, after = _chunk(job, after)
        if not walked:
            JOB.move(BulkSend.objects.filter(pk=job.pk), "finish", updated_at=timezone.now())
            return True
    return False


def drain() -> dict:
    """Prepare queued bulk sends, oldest first, until none is left or the time budget is spent."""
    import time

    deadline = time.monotonic() + DRAIN_SECONDS
    done = {"jobs": 0}
    while time.monotonic() < deadline and not lane_paused(BULK):
        job = (
            BulkSend.objects.filter(state__in=[State.QUEUED, State.PREPARING])
            .select_related("template", "clinic")
            .order_by("id")
            .first()
        )
        if job is None:
            return done
        JOB.move(BulkSend.objects.filter(pk=job.pk), "prepare", updated_at=timezone.now())
        if not run_job(job, deadline):
            break
        done["jobs"] += 1
    poke(DRAIN, lane=BULK)
    return done


# --- Reads ---------------------------------------------------------------------------------------------


def job_progress(job: BulkSend) -> dict[str, int]:
    """How far the job's messages have got: {staff status: count}, one query."""
    counts = (
        Message.objects.filter(pk__in=BulkRecipient.objects.filter(job=job).exclude(message=None).values("message_id"))
        .values("status")
        .annotate(n=Count("id"))
    )
    return {row["status"]: row["n"] for row in counts}


def jobs_of(*, clinic: Clinic) -> QuerySet[BulkSend]:
    return BulkSend.objects.filter(clinic=clinic).select_related("template").order_by("-id")
