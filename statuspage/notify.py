"""Telling subscribers: one Notice row per subscriber and update, delivered on the live lane.

The Notice rows are the durable queue. `deliver_due` claims a batch with SELECT ... FOR UPDATE SKIP
LOCKED and leases it (next_attempt_at moves forward) in a short transaction, then sends outside it,
so a worker killed mid-send leaves the notice to be retried after the lease. Delivery is therefore at
least once: webhook payloads carry the update id, emails a Message-ID, for receivers to drop repeats.
Emails go out through Django's email backend from a live-lane task; the lead may reroute them through
the messaging app's providers later by replacing `send_email` alone.
"""

import json
import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Min, Q
from django.template.loader import render_to_string
from django.utils import timezone

from kalix_site import outbound, signing
from kalix_site.backoff import backoff as exponential_backoff
from kalix_site.links import absolute_url
from lanes.pokes import LIVE, poke
from lanes.state import lane_paused
from statuspage.models import Incident, IncidentUpdate, Notice, Subscriber

log = logging.getLogger(__name__)

DELIVER = "statuspage.notify.deliver_due"
SIGNATURE_HEADER = "X-Kalix-Signature"


def _subscribers_for(incident: Incident):
    component_ids = list(incident.incident_components.values_list("component_id", flat=True))
    return (
        Subscriber.objects.filter(confirmed_at__isnull=False, unsubscribed_at__isnull=True)
        .filter(Q(components__isnull=True) | Q(components__in=component_ids))
        .distinct()
    )


def _enqueue(rows: list[Notice]) -> int:
    Notice.objects.bulk_create(rows, ignore_conflicts=True)  # notice_once: a second run adds nothing
    if rows:
        poke(DELIVER, lane=LIVE)
    return len(rows)


def enqueue_update(update: IncidentUpdate) -> int:
    now = timezone.now()
    rows = [
        Notice(subscriber=s, update=update, incident=update.incident, purpose="update", next_attempt_at=now)
        for s in _subscribers_for(update.incident)
    ]
    return _enqueue(rows)


def enqueue_reminder(maintenance: Incident) -> int:
    now = timezone.now()
    rows = [
        Notice(subscriber=s, incident=maintenance, purpose="reminder", next_attempt_at=now)
        for s in _subscribers_for(maintenance)
    ]
    return _enqueue(rows)


def enqueue_confirmation(subscriber: Subscriber, *, purpose: str = "confirm") -> int:
    """A confirmation link to the address: of a new subscription ("confirm") or of a change ("change")."""
    Notice.objects.filter(subscriber=subscriber, purpose__in=["confirm", "change"], state=Notice.PENDING).delete()
    Notice.objects.filter(subscriber=subscriber, purpose=purpose).delete()  # a fresh link on each request
    return _enqueue([Notice(subscriber=subscriber, purpose=purpose, next_attempt_at=timezone.now())])


def pending_notices():
    agg = Notice.objects.filter(state=Notice.PENDING).aggregate(oldest=Min("created_at"))
    return Notice.objects.filter(state=Notice.PENDING).count(), agg["oldest"]


# --- Delivery ---------------------------------------------------------------------------------------


def signature(secret: str, body: bytes) -> str:
    """GitHub-style `sha256=<hex HMAC>` of the body, by the one signer (kalix_site.signing)."""
    return "sha256=" + signing.hmac_sha256(secret, body)


def webhook_payload(notice: Notice) -> dict:
    from statuspage import v2

    subscriber = notice.subscriber
    status = v2.status_object()
    payload = {
        "meta": {
            "unsubscribe": absolute_url("statuspage:unsubscribe", subscriber.token),
            "documentation": absolute_url("api-docs"),
            "generated_at": v2.iso(timezone.now()),
            "event": notice.purpose,
        },
        "page": {  # Statuspage's webhook page object
            "id": settings.STATUSPAGE_PAGE_ID,
            "status_indicator": status["indicator"],
            "status_description": status["description"],
        },
    }
    if notice.incident_id:
        incident = Incident.objects.prefetch_related("updates__affected__component").get(pk=notice.incident_id)
        payload["incident"] = v2.incident_object(incident)
    if notice.update_id:
        payload["incident_update"] = v2.update_object(notice.update)
    return payload


UnsafeWebhook = outbound.UnsafeURL


def check_webhook_url(url: str) -> outbound.Target:
    """Refuse URLs that resolve to private, loopback, link-local or IPv4-in-IPv6 addresses (no requests
    into our network); the target's address is the one to connect to (kalix_site/outbound.py)."""
    return outbound.resolve(url, allow_private=settings.STATUSPAGE_WEBHOOK_ALLOW_PRIVATE)


def send_webhook(notice: Notice) -> None:
    target = check_webhook_url(notice.subscriber.webhook_url)  # again at delivery: DNS may have changed
    body = json.dumps(webhook_payload(notice), separators=(",", ":")).encode()
    status = outbound.post(
        target,
        body=body,
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Kalix-Statuspage",
            SIGNATURE_HEADER: signature(notice.subscriber.secret, body),
        },
        timeout=settings.STATUSPAGE_WEBHOOK_TIMEOUT,
    )
    if not 200 <= status < 300:
        raise RuntimeError(f"webhook answered {status}")


HTML_EMAILS = {"update", "reminder"}  # the ones carrying Markdown from Support


def _email_context(notice: Notice) -> dict:
    from statuspage.selectors import subscription_scope

    subscriber = notice.subscriber
    context = {
        "notice": notice,
        "scope": subscription_scope(subscriber, pending=subscriber.pending_components),
        "page_name": settings.STATUSPAGE_NAME,
        "unsubscribe_url": absolute_url("statuspage:unsubscribe", subscriber.token),
        "confirm_url": absolute_url("statuspage:confirm", subscriber.token),
    }
    if notice.incident_id:
        context["incident"] = notice.incident
        context["incident_url"] = absolute_url("statuspage:incident", notice.incident_id)
    if notice.update_id:
        context["update"] = notice.update
    return context


def email_content(notice: Notice) -> tuple[str, str]:
    """Subject and plain-text body (Markdown shown as plain text)."""
    context = _email_context(notice)
    # One line whatever got into a name before names were checked: a line break fails the whole email.
    subject = " ".join(render_to_string(f"statuspage/email/{notice.purpose}_subject.txt", context).split())
    return subject, render_to_string(f"statuspage/email/{notice.purpose}.txt", context)


def email_html(notice: Notice) -> str | None:
    """The HTML part, with Support's Markdown rendered (updates and reminders; None for the others)."""
    if notice.purpose not in HTML_EMAILS:
        return None
    return render_to_string(f"statuspage/email/{notice.purpose}.html", _email_context(notice))


def send_email(notice: Notice) -> None:
    subject, body = email_content(notice)
    html = email_html(notice)
    unsubscribe = absolute_url("statuspage:unsubscribe", notice.subscriber.token)
    message = EmailMultiAlternatives(
        subject=subject,
        body=body,
        from_email=settings.STATUSPAGE_FROM_EMAIL,
        to=[notice.subscriber.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",  # RFC 8058: the link takes a POST too
            "Message-ID": f"<statuspage-notice-{notice.pk}@{settings.STATUSPAGE_MESSAGE_ID_DOMAIN}>",
        },
    )
    if html:
        message.attach_alternative(html, "text/html")
    message.send()


def _claim(now, batch: int) -> list[Notice]:
    with transaction.atomic():
        rows = list(
            Notice.objects.select_for_update(skip_locked=True)
            .filter(state=Notice.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")[:batch]
        )
        lease = now + timedelta(seconds=settings.STATUSPAGE_NOTICE_LEASE_SECONDS)
        Notice.objects.filter(pk__in=[n.pk for n in rows]).update(next_attempt_at=lease)
    return rows


def backoff(attempts: int) -> timedelta:
    return exponential_backoff(
        attempts, base=settings.STATUSPAGE_RETRY_BASE_SECONDS, cap=settings.STATUSPAGE_RETRY_MAX_SECONDS
    )


def deliver_due(*, batch: int | None = None) -> int:
    """Deliver due notices in batches until none is due; returns how many were delivered."""
    batch = batch or settings.STATUSPAGE_NOTICE_BATCH
    delivered = 0
    while True:
        if lane_paused(LIVE):
            return delivered  # a paused live lane sends no notice; resuming pokes this again
        now = timezone.now()
        rows = _claim(now, batch)
        if not rows:
            return delivered
        claimed = Notice.objects.filter(pk__in=[n.pk for n in rows]).select_related("subscriber", "update", "incident")
        for notice in sorted(claimed, key=lambda n: n.pk):  # in the order they were queued
            attempts = notice.attempts + 1
            try:
                if notice.subscriber.webhook_url:
                    send_webhook(notice)
                else:
                    send_email(notice)
            except Exception as error:  # any failure of a receiver: retry with backoff, then give up
                failed = attempts >= settings.STATUSPAGE_NOTICE_MAX_ATTEMPTS
                log.warning("status notice %s attempt %s failed: %s", notice.pk, attempts, type(error).__name__)
                Notice.objects.filter(pk=notice.pk).update(
                    attempts=attempts,
                    state=Notice.FAILED if failed else Notice.PENDING,
                    next_attempt_at=timezone.now() + backoff(attempts),
                    last_error=str(error)[:255],
                )
                continue
            Notice.objects.filter(pk=notice.pk).update(
                attempts=attempts, state=Notice.SENT, sent_at=timezone.now(), last_error=""
            )
            delivered += 1
