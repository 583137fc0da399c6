"""Reads of messages, always scoped by clinic: another clinic's message does not exist here (404)."""

import re
from datetime import date, datetime, time

from django.contrib.postgres.search import SearchQuery
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from clinics.models import Clinic
from messaging.models import DeliveryEvent, Message

WORD = re.compile(r"[^\w@.+-]+")


def search_query(text: str) -> SearchQuery | None:
    """Every word must match, each as a prefix, over the GIN-indexed search document."""
    words = [WORD.sub("", w) for w in text.split()]
    words = [w for w in words if w]
    if not words:
        return None
    return SearchQuery(" & ".join(f"'{w}':*" for w in words), search_type="raw", config="simple")


def message_list(
    *,
    clinic: Clinic,
    query: str = "",
    status: str = "",
    channel: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[Message]:
    """Newest first (by id, so keyset pagination is stable and index-backed)."""
    messages = Message.objects.filter(clinic=clinic).select_related("patient").order_by("-id")
    search = search_query(query)
    if search is not None:
        messages = messages.filter(search=search)
    if status:
        messages = messages.filter(status=status)
    if channel:
        messages = messages.filter(channel=channel)
    tz = clinic.tzinfo
    if date_from:
        messages = messages.filter(created_at__gte=datetime.combine(date_from, time.min, tzinfo=tz))
    if date_to:
        messages = messages.filter(created_at__lt=datetime.combine(date_to, time.max, tzinfo=tz))
    return messages


def message_page(messages: QuerySet[Message], *, before: int | None = None, size: int = 50) -> tuple[list, int | None]:
    """One page of a newest-first list, keyset-paginated on id: (rows, id to continue before, or None)."""
    if before:
        messages = messages.filter(pk__lt=before)
    rows = list(messages[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1].pk if more else None)


def message_get(*, clinic: Clinic, pk) -> Message:
    return get_object_or_404(Message.objects.select_related("patient", "created_by", "retry_of"), clinic=clinic, pk=pk)


def message_events(*, message: Message) -> QuerySet[DeliveryEvent]:
    return message.events.order_by("occurred_at", "id")


def message_retried_as(*, message: Message) -> Message | None:
    """The message this one was sent again as (at most one: message_one_retry_per_message)."""
    return message.retries.only("pk").first()
