"""Least privilege in admin: Operations steer queues and Support runs the status page; neither ever
sees a patient's name, contact, date of birth, a message's recipient, subject or body, or a claim's
member id or diagnosis code. This walks every admin page and action, as each of them: every model
admin's change list (and a search), add page, each object's change, history and delete pages, every
custom admin view, and every action available to them on every object; a seeded patient detail in any
answer (a CSV too) fails. The same walk as a superuser must find them, or the walk proves nothing."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import reverse
from django.urls.resolvers import URLPattern

NAME_FIRST, NAME_LAST = "Zebediah", "Quillfeather"
EMAIL = "zeb.quillfeather@example.org"
MOBILE = "+61412999888"
DOB = date(1931, 7, 4)
MEMBER_ID = "MBR77Q1XK"
DIAGNOSIS = "M7966"
SUBJECT = "Your Quillfeather scan"
BODY = "Biopsy result ZQ5512 is ready"
SMS_BODY = "Take Wexlorin at night"
NOTES = "Left knee, torn meniscus"
REPLY = "Can we make it Friday"


def forbidden() -> list[str]:
    return [
        NAME_FIRST,
        NAME_LAST,
        EMAIL,
        MOBILE,
        "412 999 888",
        "0412999888",
        DOB.isoformat(),
        "4 July 1931",
        "July 4, 1931",
        "04/07/1931",
        MEMBER_ID,
        DIAGNOSIS,
        SUBJECT,
        BODY,
        SMS_BODY,
        NOTES,
        REPLY,
    ]


@pytest.fixture
def patient_world(clinic_a, staff_a, payer_a, make_invoice, carrier):
    from billing.batches import batch_request, drain_batch_requests
    from clinics import consent
    from clinics.services import patient_create
    from messaging import worker
    from messaging.models import WebhookInbox
    from messaging.services import message_send

    patient = patient_create(
        clinic=clinic_a,
        first_name=NAME_FIRST,
        last_name=NAME_LAST,
        email=EMAIL,
        mobile=MOBILE,
        date_of_birth=DOB,
        messaging_consent="opted_in",
    )
    sms = message_send(clinic=clinic_a, patient=patient, channel="sms", body=SMS_BODY)
    worker.drain()
    # Left queued (no worker runs in a test): what an operator sees while the live lane is paused.
    queued_sms = message_send(clinic=clinic_a, patient=patient, channel="sms", body=SMS_BODY)
    email = message_send(clinic=clinic_a, patient=patient, channel="email", subject=SUBJECT, body=BODY)
    consent.address_opt_out(clinic=clinic_a, channel="email", address=EMAIL, reason="asked", by=staff_a)
    make_invoice(patient=patient, payer=payer_a, member_id=MEMBER_ID, diagnosis_code=DIAGNOSIS)
    batch, _ = batch_request(clinic=clinic_a, requested_by=staff_a, payer=payer_a, cutoff_date=date.today())
    drain_batch_requests()
    batch.refresh_from_db()
    assert batch.status == "open" and batch.invoice_count == 1
    from django.utils import timezone

    WebhookInbox.objects.create(
        provider="simulated",
        provider_message_id="SIMX1",
        event_id="evt-least-privilege",
        kind="delivered",
        occurred_at=timezone.now(),
        received_at=timezone.now(),
        payload={"to": MOBILE, "text": SMS_BODY},
        parked_at=timezone.now(),
        reason="no such message",
        tries=8,
    )
    queued_sms.refresh_from_db()
    assert queued_sms.dispatch == "queued"
    appointment_world(clinic_a, patient, staff_a)
    return {
        "patient": patient,
        "messages": [sms, queued_sms, email],
        "queued": queued_sms,
        "batch": batch,
        "total": Decimal("80.00"),
    }


def appointment_world(clinic, patient, practitioner):
    """An appointment with notes, its reminder, and the patient's SMS reply in a thread."""
    from datetime import timedelta

    from django.utils import timezone

    from clinics.appointments import appointment_book
    from messaging import reminders, templating
    from messaging.models import InboundMessage, SmsThread

    template = templating.template_save(
        clinic=clinic, name="Day before", channel="sms", body="See you {appointment_time}"
    )
    reminders.rule_create(clinic=clinic, template=template, hours_before=24)
    starts_at = timezone.now() + timedelta(hours=5)
    appointment_book(
        clinic=clinic,
        patient=patient,
        practitioner=practitioner.memberships.get(clinic=clinic),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=30),
        notes=NOTES,
    )
    reminders.drain()
    now = timezone.now()
    thread = SmsThread.objects.create(clinic=clinic, number=MOBILE, patient=patient, last_inbound_at=now)
    InboundMessage.objects.create(
        clinic=clinic, thread=thread, inbound_id="in-1", sender=MOBILE, text=REPLY, occurred_at=now, received_at=now
    )


def custom_admin_urls():
    """(model admin or None, URL pattern) of every admin view that is not one of ModelAdmin's own."""
    standard = {"changelist", "add", "change", "history", "delete", None}
    found = []
    for model_admin in admin.site._registry.values():
        own = f"{model_admin.opts.app_label}_{model_admin.opts.model_name}_"
        for pattern in model_admin.get_urls():
            if isinstance(pattern, URLPattern):
                suffix = pattern.name.removeprefix(own) if pattern.name else None
                if suffix not in standard:
                    found.append((model_admin, pattern))
    return found


def fill(pattern, model_admin) -> list[str]:
    """Concrete paths for a custom admin pattern: each object's id, each lane, each command."""
    from lanes.models import Lane, LaneAction
    from statuspage.models import IncidentUpdate

    route = str(pattern.pattern)
    ids = [str(pk) for pk in model_admin.model._default_manager.values_list("pk", flat=True)[:5]] or ["1"]
    lanes = list(Lane.objects.values_list("name", flat=True)) or ["live"]
    actions = [str(pk) for pk in LaneAction.objects.values_list("pk", flat=True)[:3]] or ["1"]
    updates = [str(pk) for pk in IncidentUpdate.objects.values_list("pk", flat=True)[:3]] or ["1"]
    paths = [route]
    for placeholder, values in (
        ("<int:pk>", ids),
        ("<path:object_id>", ids),
        ("<str:lane>", lanes),
        ("<int:action_id>", actions),
        ("<int:update_pk>", updates),
        ("<str:command>", ["pause", "resume", "drain", "backlog"]),
    ):
        paths = [p.replace(placeholder, v, 1) for p in paths for v in values] if placeholder in route else paths
    admin_prefix = reverse("admin:index")
    model_prefix = f"{model_admin.opts.app_label}/{model_admin.opts.model_name}/"
    return [admin_prefix + model_prefix + p for p in paths]


def walk_admin(client, user):
    """Every admin answer `user` can get: (what, body text).

    Every page is read before any action runs, and again after: an action changes the world (Cancel
    pending on messages empties the queue), so pages read only after actions had run never showed a
    queued message's change page."""
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    answers = []

    def get(path, **params):
        response = client.get(path, params, follow=True)
        assert response.status_code < 500, (path, response.status_code)
        answers.append((f"GET {path} {params}", response.content.decode(errors="replace")))
        return response

    def read_every_page():
        get("/admin/")
        get(reverse("queue-dashboard"))
        for model in admin.site._registry:
            name = f"admin:{model._meta.app_label}_{model._meta.model_name}_"
            changelist = reverse(name + "changelist")
            get(changelist)
            get(changelist, q=NAME_LAST[:6])  # a prefix: the search box echoes it
            get(reverse(name + "add"))
            for pk in model._default_manager.values_list("pk", flat=True)[:20]:
                for view in ("change", "history", "delete"):
                    get(reverse(name + view, args=[pk]))
        for model_admin, pattern in custom_admin_urls():
            for path in fill(pattern, model_admin):
                get(path)

    def run_every_action():
        for model, model_admin in admin.site._registry.items():
            if not model_admin.has_view_or_change_permission(request):
                continue
            changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            pks = [str(pk) for pk in model._default_manager.values_list("pk", flat=True)[:20]]
            for name in model_admin.get_actions(request):
                data = {"action": name, "_selected_action": pks, "index": 0}
                response = client.post(changelist, data, follow=True)
                assert response.status_code < 500, (changelist, name, response.status_code)
                answers.append((f"action {name} on {changelist}", response.content.decode(errors="replace")))

    read_every_page()
    run_every_action()
    read_every_page()
    return answers


def leaks(answers) -> list[tuple[str, str]]:
    return [(what, value) for what, body in answers for value in forbidden() if value in body]


@pytest.mark.parametrize("role", ["ops", "support"])
def test_operations_and_support_never_see_a_patient_detail_anywhere_in_admin(client, patient_world, role, request):
    user = request.getfixturevalue(role)
    client.force_login(user)
    answers = walk_admin(client, user)
    assert len(answers) > 100
    found = sorted({f"{what.split(' {')[0]}: {value}" for what, value in leaks(answers)})
    assert not found, "\n".join(found)


def test_a_staff_user_with_every_view_permission_sees_no_patient_detail_in_admin(client, patient_world, make_user):
    """Least privilege is the admins' own, not only the groups' grants: a staff user given every view
    permission there is (a group widened one day) still reads no patient's data; superusers alone do."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    viewer = make_user("vera", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    viewer = get_user_model().objects.get(pk=viewer.pk)  # no cached permissions
    client.force_login(viewer)
    answers = walk_admin(client, viewer)
    assert len(answers) > 100
    found = sorted({f"{what.split(' {')[0]}: {value}" for what, value in leaks(answers)})
    assert not found, "\n".join(found)


def test_operations_read_no_patient_detail_on_a_queued_message(client, patient_world, ops, make_user):
    """A queued SMS's change page, as Operations steering a paused live lane: no name, recipient or body."""
    from lanes import controls

    controls.lane_pause(lane="live", reason="carrier outage", actor=ops)
    page = reverse("admin:messaging_queuedmessage_change", args=[patient_world["queued"].pk])
    client.force_login(ops)
    response = client.get(page)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Put selected back from the backlog" not in html  # the change page, not the list
    assert not [value for value in (SMS_BODY, MOBILE, "412 999 888", NAME_FIRST, NAME_LAST) if value in html]
    assert "Recipient" not in html and "Body" not in html

    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    html = client.get(page).content.decode()
    assert SMS_BODY in html and NAME_LAST in html  # the same page shows them to a superuser


def test_the_walk_finds_patient_details_where_they_are_shown(client, patient_world, make_user):
    root = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(root)
    found = {value for _, value in leaks(walk_admin(client, root))}
    assert {NAME_LAST, EMAIL, SUBJECT, MEMBER_ID, NOTES, REPLY} <= found


@pytest.mark.parametrize("role", ["ops", "support"])
def test_operations_and_support_get_403_on_claim_exports(client, patient_world, role, request):
    batch = patient_world["batch"]
    client.force_login(request.getfixturevalue(role))
    for name in ("billing-batch-csv", "billing-batch-x12"):
        response = client.get(reverse(name, args=[batch.pk]))
        assert response.status_code == 403, name
        assert not [value for value in forbidden() if value in response.content.decode()]
    api = client.get(f"/api/v1/billing/batches/{batch.pk}/csv/")
    assert api.status_code in (403, 404)
