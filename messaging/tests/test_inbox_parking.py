"""The webhook inbox can never stop the lane: unappliable reports are retried a bounded number of times
with backoff, then parked with their reason; parked and not-yet-due reports are never picked, never
count as live-lane lag, and operators discard or re-apply them from admin."""

import json
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection, transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lanes import reindex
from lanes.models import LaneAction
from lanes.pokes import LIVE
from lanes.registry import lane_snapshot
from messaging import inbox, sql, worker
from messaging.authenticity import sim_headers
from messaging.models import DeliveryEvent, EventKind, Message, Status, WebhookInbox
from messaging.services import message_send
from tests.support.channels import SIM_SECRET

pytestmark = pytest.mark.django_db

SIM_URL = "/messages/webhooks/sim/"
INBOX_ADMIN = reverse("admin:messaging_webhookinbox_changelist")


def stray(id_="x1", **extra) -> dict:
    report = {"id": id_, "ref": str(uuid.uuid4()), "message_id": f"SIM-{id_}", "status": "delivered"}
    return report | {"at": "2026-11-28T10:00:00Z"} | extra


def post_sim(client, reports):
    body = json.dumps({"reports": reports}).encode()
    response = client.post(SIM_URL, body, content_type="application/json", headers=sim_headers(body, SIM_SECRET))
    assert response.status_code == 204
    return response


def make_due(**filters) -> None:
    WebhookInbox.objects.filter(**filters).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def row(**fields) -> WebhookInbox:
    now = timezone.now()
    defaults = {
        "provider": "sim",
        "provider_message_id": f"SIM-{uuid.uuid4().hex[:8]}",
        "send_key": uuid.uuid4(),
        "event_id": f"sim:{uuid.uuid4().hex}",
        "kind": EventKind.DELIVERED,
        "occurred_at": now,
        "received_at": now,
    }
    return WebhookInbox.objects.create(**(defaults | fields))


@pytest.fixture
def inbox_settings(sim_settings):
    sim_settings.MESSAGING_INBOX_MAX_TRIES = 3
    sim_settings.MESSAGING_INBOX_RETRY_BASE_SECONDS = 10
    sim_settings.MESSAGING_INBOX_RETRY_MAX_SECONDS = 15
    return sim_settings


# --- retried with backoff, then parked --------------------------------------------------------------


def test_an_unmatched_report_is_retried_with_backoff_then_parked_with_its_reason(client, inbox_settings):
    post_sim(client, [stray()])

    before = timezone.now()
    assert inbox.apply_batch() == 0
    report = WebhookInbox.objects.get()
    assert (report.tries, report.parked_at, report.reason) == (1, None, inbox.NO_MATCH)
    first_wait = worker.backoff(1, base=10, cap=15)
    assert before + first_wait <= report.next_attempt_at <= timezone.now() + first_wait

    assert inbox.apply_batch() == 0
    assert WebhookInbox.objects.get().tries == 1, "a report not yet due is not picked"

    make_due()
    inbox.apply_batch()
    report = WebhookInbox.objects.get()
    assert report.tries == 2 and report.parked_at is None
    assert report.next_attempt_at - timezone.now() <= timedelta(seconds=15), "capped at the maximum"
    assert report.next_attempt_at - timezone.now() > timedelta(seconds=14)

    make_due()
    inbox.apply_batch()
    report = WebhookInbox.objects.get()
    assert report.tries == 3 and report.parked_at is not None
    assert report.reason == inbox.NO_MATCH

    make_due()
    inbox.apply_batch()
    assert WebhookInbox.objects.get().tries == 3, "a parked report is never picked again"


def test_a_report_with_nothing_to_match_by_is_parked_at_once(inbox_settings):
    row(send_key=None, provider_message_id="")
    inbox.apply_batch()
    report = WebhookInbox.objects.get()
    assert (report.tries, report.reason) == (1, inbox.NOTHING_TO_MATCH) and report.parked_at is not None


def test_a_report_of_an_unknown_kind_is_parked_not_applied(inbox_settings, clinic_a, patient_a, carrier):
    message = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="hi")
    worker.drain()
    message.refresh_from_db()
    row(send_key=message.send_key, kind="exploded")

    assert inbox.apply_batch() == 0
    report = WebhookInbox.objects.get()
    assert report.reason == inbox.UNKNOWN_KIND and report.parked_at is not None
    assert not DeliveryEvent.objects.filter(message=message, kind="exploded").exists()


def test_a_report_whose_message_appears_before_it_is_parked_still_applies(client, inbox_settings, clinic_a, patient_a):
    """What the retries are for: the provider answered before we recorded its id."""
    post_sim(client, [stray("late", ref=str(uuid.uuid4()), message_id="SIM-LATE")])
    inbox.apply_batch()
    message = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="hi")
    Message.objects.filter(pk=message.pk).update(provider="sim", provider_message_id="SIM-LATE")

    make_due()
    assert inbox.apply_batch() == 1
    message.refresh_from_db()
    assert message.status == Status.SUCCESS and not WebhookInbox.objects.exists()


# --- no counter can overflow; apply_batch never raises ---------------------------------------------


@pytest.mark.parametrize("tries", [32_766, 32_767])
def test_tries_at_the_smallint_limit_cannot_break_the_drain(tries, settings, clinic_a, patient_a, carrier):
    settings.MESSAGING_INBOX_MAX_TRIES = 1_000_000  # a setting beyond the column's range changes nothing
    report = row(tries=tries)
    message = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="hi")

    done = worker.drain()

    assert done["messages"] == 1 and len(carrier.sink) == 1
    message.refresh_from_db()
    assert message.status == Status.SENDING
    report.refresh_from_db()
    assert report.tries == 32_767 and report.parked_at is not None


def test_a_report_the_database_refuses_is_parked_and_the_rest_of_its_batch_applies(
    inbox_settings, clinic_a, patient_a, carrier
):
    message = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="hi")
    worker.drain()
    message.refresh_from_db()
    with connection.cursor() as cursor:  # stands in for any constraint a report's content could break
        cursor.execute(
            """CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN IF NEW.event_id = 'sim:poison' THEN
                   RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation'; END IF;
               RETURN NEW; END $$;
               CREATE TRIGGER refuse_poison BEFORE INSERT ON messaging_deliveryevent
                  FOR EACH ROW EXECUTE FUNCTION refuse_poison();"""
        )
    poison = row(send_key=message.send_key, event_id="sim:poison", kind=EventKind.FAILED)
    good = row(send_key=message.send_key, event_id="sim:good", kind=EventKind.DELIVERED)

    assert inbox.apply_batch() == 1

    assert not WebhookInbox.objects.filter(pk=good.pk).exists()
    poison.refresh_from_db()
    assert poison.parked_at is not None and poison.reason == "could not be applied (IntegrityError)"
    message.refresh_from_db()
    assert message.status == Status.SUCCESS


KINDS = [*EventKind.values, "exploded"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "tries": st.one_of(st.integers(0, 5), st.integers(32_760, 32_767)),
                "parked": st.booleans(),
                "due_in": st.sampled_from([-86_400 * 400, -1, 0, 1, 3600]),
                "kind": st.sampled_from(KINDS),
                "key": st.sampled_from(["message", "other", "none"]),
                "provider_id": st.sampled_from(["message", "other", ""]),
                "event_id": st.sampled_from(["existing", "fresh", "shared"]),
            }
        ),
        max_size=12,
    ),
    st.integers(1, 20),
)
def test_apply_batch_never_raises_for_any_inbox_state(handed_off_message, states, max_tries):
    message = handed_off_message
    with transaction.atomic():
        sid = transaction.savepoint()
        with override_settings(MESSAGING_INBOX_MAX_TRIES=max_tries):
            ids = {}
            now = timezone.now()
            for n, s in enumerate(states):
                r = row(
                    tries=s["tries"],
                    parked_at=now if s["parked"] else None,
                    reason="parked before" if s["parked"] else "",
                    next_attempt_at=now + timedelta(seconds=s["due_in"]),
                    kind=s["kind"],
                    send_key={"message": message.send_key, "other": uuid.uuid4(), "none": None}[s["key"]],
                    provider_message_id={"message": message.provider_message_id, "other": f"SIM-{n}", "": ""}[
                        s["provider_id"]
                    ],
                    event_id={"existing": "sim:existing", "fresh": f"sim:fresh-{n}", "shared": "sim:shared"}[
                        s["event_id"]
                    ],
                )
                ids[r.pk] = r
            inbox.apply_batch()

            after = {r.pk: r for r in WebhookInbox.objects.filter(pk__in=ids)}
            for pk, old in ids.items():
                new = after.get(pk)
                untouched = old.parked_at is not None or old.next_attempt_at > now
                if untouched:
                    assert new is not None and (new.tries, new.reason, new.parked_at) == (
                        old.tries,
                        old.reason,
                        old.parked_at,
                    ), "parked and not-yet-due reports are left alone"
                elif new is not None:  # picked and not applied: waits with backoff, or parked
                    assert new.tries == min(old.tries + 1, 32_767) and new.reason
                    assert new.parked_at is not None or new.next_attempt_at > now
                    assert new.parked_at is not None or new.tries < min(max_tries, 32_767)
                else:
                    assert old.kind in EventKind.values, "only a known kind is applied"
        transaction.savepoint_rollback(sid)


@pytest.fixture
def handed_off_message(sim_settings, clinic_a, patient_a, carrier):
    message = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="hi")
    worker.drain()
    message.refresh_from_db()
    DeliveryEvent.objects.create(
        message=message,
        kind=EventKind.SENT,
        occurred_at=timezone.now(),
        received_at=timezone.now(),
        source="provider",
        event_id="sim:existing",
    )
    return message


def test_the_apply_query_is_backed_by_the_due_index(inbox_settings):
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO messaging_webhookinbox (provider, provider_message_id, event_id, kind, occurred_at,
                          received_at, detail, payload, tries, next_attempt_at, parked_at, reason)
               SELECT 'sim', 'SIM-' || n, 'sim:' || n, 'delivered', %s, %s, '', '{}', 3,
                      CASE WHEN n %% 2 = 0 THEN %s + interval '1 hour' ELSE %s END,
                      CASE WHEN n %% 2 = 1 THEN %s END, 'parked'
                 FROM generate_series(1, 20000) AS n""",
            [now, now, now, now, now],
        )
        cursor.execute("ANALYZE messaging_webhookinbox")
        cursor.execute("EXPLAIN " + sql.DUE_SQL.format(only=""), {"limit": 2000})
        plan = "\n".join(r[0] for r in cursor.fetchall())
    assert "inbox_due_idx" in plan, plan


# --- never live lag, never holding back a re-index, expired in time ---------------------------------


def test_parked_and_not_yet_due_reports_are_not_live_lag_and_do_not_hold_back_a_reindex(settings):
    settings.REINDEX_LIVE_MAX_AGE_SECONDS = 5
    hour_ago = timezone.now() - timedelta(hours=1)
    for _ in range(3):
        row(received_at=hour_ago, parked_at=hour_ago, tries=8, reason=inbox.NO_MATCH)
        row(received_at=hour_ago, next_attempt_at=timezone.now() + timedelta(minutes=5), tries=2)

    live = lane_snapshot()[LIVE]
    assert live["kinds"]["delivery reports"] == 0 and live["oldest_age_s"] is None
    assert reindex.live_backoff_reason() == ""

    due = row(received_at=hour_ago, tries=2)
    WebhookInbox.objects.filter(pk=due.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=30))
    live = lane_snapshot()[LIVE]
    assert live["kinds"]["delivery reports"] == 1
    assert 30 <= live["oldest_age_s"] < 60, "age counts from when it became due, not from when it arrived"
    assert reindex.live_backoff_reason().startswith("Backing off")


def test_old_parked_reports_expire_in_the_safety_drain(settings, carrier):
    settings.MESSAGING_INBOX_MAX_AGE_SECONDS = 3600
    old = timezone.now() - timedelta(hours=2)
    row(received_at=old, parked_at=old, tries=8, reason=inbox.NO_MATCH)
    recent = row(parked_at=timezone.now(), tries=8, reason=inbox.NO_MATCH)

    worker.safety_drain()

    assert list(WebhookInbox.objects.values_list("pk", flat=True)) == [recent.pk]


def test_reports_never_tried_are_not_expired_while_the_lane_is_paused(settings, carrier):
    """A weekend's pause must not delete the reports it held back: only reports that were tried and
    matched nothing expire, and not while the live lane is paused."""
    from lanes import controls

    settings.MESSAGING_INBOX_MAX_AGE_SECONDS = 3600
    old = timezone.now() - timedelta(hours=30)
    held_back = row(received_at=old, tries=0)
    given_up = row(received_at=old, parked_at=old, tries=8, reason=inbox.NO_MATCH)
    controls.lane_pause(lane=LIVE, reason="weekend maintenance")

    worker.safety_drain()
    assert set(WebhookInbox.objects.values_list("pk", flat=True)) == {held_back.pk, given_up.pk}

    controls.lane_resume(lane=LIVE)
    inbox.expire_unmatched()
    assert set(WebhookInbox.objects.values_list("pk", flat=True)) == {held_back.pk}


# --- admin: parked reports with their reason, Discard, Re-apply now; the dashboard counts them -------


@pytest.fixture
def ops_client(client, ops):
    client.force_login(ops)
    return client


def act(client, action, reports, **query):
    url = INBOX_ADMIN + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    return client.post(url, {"action": action, "_selected_action": [r.pk for r in reports]}, follow=True)


def test_operations_see_parked_reports_with_their_reason(ops_client):
    parked = row(parked_at=timezone.now(), tries=8, reason=inbox.NO_MATCH)
    waiting = row(tries=1, next_attempt_at=timezone.now() + timedelta(minutes=1), reason=inbox.NO_MATCH)

    page = ops_client.get(INBOX_ADMIN, {"state": "parked"})

    assert page.status_code == 200
    assert [r.pk for r in page.context["cl"].result_list] == [parked.pk]
    html = page.content.decode()
    assert inbox.NO_MATCH in html and "Discard" in html and "Re-apply now" in html
    assert [r.pk for r in ops_client.get(INBOX_ADMIN, {"state": "waiting"}).context["cl"].result_list] == [waiting.pk]


def test_discard_deletes_only_parked_reports_and_is_recorded(ops_client):
    parked = [row(parked_at=timezone.now(), tries=8, reason=inbox.NO_MATCH) for _ in range(2)]
    waiting = row(tries=1, next_attempt_at=timezone.now() + timedelta(minutes=1))

    response = act(ops_client, "discard", [*parked, waiting])

    assert list(WebhookInbox.objects.values_list("pk", flat=True)) == [waiting.pk]
    assert "Discarded 2 parked report(s); 1 not parked, left alone." in response.content.decode()
    action = LaneAction.objects.get()
    assert (action.lane, action.action, action.rows, action.actor.username) == (LIVE, "reports_discard", 2, "olga")


def test_reapply_puts_parked_reports_back_as_due_and_pokes_the_live_drain(
    ops_client, sim_settings, clinic_a, patient_a, django_capture_on_commit_callbacks
):
    # made directly, as a handed-off message: message_send's own poke would coalesce with ours
    message = Message.objects.create(
        clinic=clinic_a,
        patient=patient_a,
        channel="sms",
        recipient=patient_a.mobile,
        body="hi",
        dispatch="handed_off",
        provider="sim",
        provider_message_id="SIM-LATE",
    )
    parked = row(provider_message_id="SIM-LATE", parked_at=timezone.now(), tries=8, reason=inbox.NO_MATCH)

    with django_capture_on_commit_callbacks(execute=True):
        response = act(ops_client, "reapply", [parked])

    assert "Re-applying 1 parked report(s)" in response.content.decode()
    parked.refresh_from_db()
    assert (parked.tries, parked.parked_at, parked.reason) == (0, None, "")
    assert parked.next_attempt_at <= timezone.now()
    assert OrmQ.objects.filter(key=LIVE).count() == 1, "the live drain was poked"
    assert LaneAction.objects.get().action == "reports_reapply"

    assert inbox.apply_batch() == 1  # what the poked drain does first
    message.refresh_from_db()
    assert message.status == Status.SUCCESS


def test_without_the_lane_control_permission_the_actions_do_nothing(client, make_user):
    viewer = make_user("vera", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_webhookinbox"))
    client.force_login(viewer)
    parked = row(parked_at=timezone.now(), tries=8, reason=inbox.NO_MATCH)

    page = client.get(INBOX_ADMIN).content.decode()
    assert "Re-apply now" not in page and "Discard" not in page
    for action in ("discard", "reapply", "delete_selected"):
        act(client, action, [parked])
    parked.refresh_from_db()
    assert parked.parked_at is not None and not LaneAction.objects.exists()


def test_the_queue_dashboard_counts_parked_reports_with_a_link_to_them(ops_client):
    for _ in range(3):
        row(parked_at=timezone.now(), tries=8, reason=inbox.NO_MATCH)

    html = ops_client.get(reverse("admin:lanes_lane_changelist")).content.decode()

    assert "Parked delivery reports" in html
    assert f'href="{INBOX_ADMIN}?state=parked">3</a>' in html


def test_matching_by_provider_id_stays_on_its_index_beside_many_messages_without_one(inbox_settings, clinic_a):
    """Most messages have no provider id (held, cancelled, not handed off yet): the planner must not
    think a seq scan finds one at once, or every unmatched report reads the whole message table."""
    from tests.support.seed import seed_messages

    seed_messages(clinic_id=clinic_a.pk, count=20_000)
    for _ in range(3):
        row()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE messaging_message")
        cursor.execute("ANALYZE messaging_webhookinbox")
        cursor.execute("EXPLAIN " + sql.APPLY_SQL.format(due=sql.DUE_SQL.format(only="")), inbox._params(2000))
        plan = "\n".join(r[0] for r in cursor.fetchall())
    assert "Seq Scan on messaging_message" not in plan, plan
    assert "message_provider_ref_idx" in plan, plan
