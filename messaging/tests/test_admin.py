"""Message admin: search through the index, read-only events, actions guarded by permissions."""

import pytest
from django.contrib.auth.models import Permission

from messaging.events import NewEvent, record_events
from messaging.models import Message, Status
from messaging.services import message_send

pytestmark = pytest.mark.django_db

URL = "/admin/messaging/message/"


@pytest.fixture
def admin_client_(client, make_user):
    user = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


@pytest.fixture
def viewer(client, make_user):
    user = make_user("viewer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_message"))
    client.force_login(user)
    return client


def sms(clinic, patient):
    return message_send(clinic=clinic, patient=patient, channel="sms", body="hello")


def act(client, action, *messages):
    return client.post(URL, {"action": action, "_selected_action": [m.pk for m in messages]}, follow=True)


def test_the_changelist_searches_the_index_and_the_detail_shows_events(admin_client_, clinic_a, patient_a):
    message = sms(clinic_a, patient_a)
    assert message.pk in [m.pk for m in admin_client_.get(URL, {"q": "lovel"}).context["cl"].result_list]
    assert not admin_client_.get(URL, {"q": "nobody"}).context["cl"].result_list
    page = admin_client_.get(f"{URL}{message.pk}/change/").content.decode()
    assert "kalix:" in page and "Queued" in page


def test_cancel_pending_and_retry_failed_actions(admin_client_, clinic_a, patient_a):
    pending, failed = sms(clinic_a, patient_a), sms(clinic_a, patient_a)
    record_events([NewEvent(failed.pk, "failed", "t:f")])
    act(admin_client_, "cancel_pending", pending)
    response = act(admin_client_, "retry_failed", failed, pending)
    pending.refresh_from_db()
    assert pending.status == Status.CANCELLED
    assert Message.objects.filter(retry_of=failed).count() == 1
    assert "Retried 1 message(s); 1 skipped" in response.content.decode()


def test_rederive_status_repairs_a_wrong_status(admin_client_, clinic_a, patient_a):
    message = sms(clinic_a, patient_a)
    Message.objects.filter(pk=message.pk).update(status=Status.SUCCESS, status_detail="wrong")
    act(admin_client_, "rederive_status", message)
    message.refresh_from_db()
    assert (message.status, message.status_detail) == (Status.PENDING, "Queued")


def test_a_view_only_user_cannot_run_actions(viewer, clinic_a, patient_a):
    message = sms(clinic_a, patient_a)
    assert viewer.get(URL).status_code == 200
    act(viewer, "cancel_pending", message)
    message.refresh_from_db()
    assert message.status == Status.PENDING


def test_retry_failed_twice_sends_again_once(admin_client_, clinic_a, patient_a):
    failed = sms(clinic_a, patient_a)
    record_events([NewEvent(failed.pk, "failed", "t:f")])
    act(admin_client_, "retry_failed", failed)
    again = act(admin_client_, "retry_failed", failed)
    assert Message.objects.filter(retry_of=failed).count() == 1
    assert "Retried 0 message(s); 1 skipped (not failed, already sent again" in again.content.decode()
