from datetime import timedelta

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.timesince import timesince
from django.views.decorators.http import require_POST

from clinics import audit, consent
from clinics.views import staff_required
from kalix_site import errors
from kalix_site.forms import new_request_key
from messaging import selectors, sending, services
from messaging.dispatch import DISPATCH
from messaging.forms import ComposeForm, MessageFilterForm
from messaging.models import Channel, Dispatch, Status
from messaging.timeline import timeline
from messaging.vocabulary import ATTEMPTS_WORDS, REFERENCE_WORDS

PAGE_SIZE = 50
RETRY_TYPED = "messaging_retry_typed"  # session key: a refused retry's corrected address, shown once


@staff_required
def message_list(request):
    form = MessageFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    messages = selectors.message_list(
        clinic=request.clinic,
        query=filters.get("q") or "",
        status=filters.get("status") or "",
        channel=filters.get("channel") or "",
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
    )
    rows, next_before = selectors.message_page(messages, before=filters.get("before"), size=PAGE_SIZE)
    query = request.GET.copy()
    query.pop("before", None)
    return render(
        request,
        "messaging/message_list.html",
        {
            "form": form,
            "rows": rows,
            "next_before": next_before,
            "query": query.urlencode(),
            "paged": "before" in request.GET,
            **sending.notice_context(request),
        },
    )


@staff_required
def message_compose(request):
    initial = {} if request.method == "POST" else _prefill(request)
    form = ComposeForm(request.POST or None, request.FILES or None, clinic=request.clinic, initial=initial)
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        key = fields.pop("request_key")
        send_again = fields.pop("send_again", False)
        try:
            # made, then undone if it repeats one sent moments ago: the send's own refusals (an opt-out, a
            # bounced address, a bad number) come first, and the repeat is judged on what was made
            with transaction.atomic():
                message, made = services.message_send_or_replay(
                    clinic=request.clinic, created_by=request.user, idempotency_key=key, **fields
                )
                if made and not send_again and (earlier := selectors.same_message_sent_lately(message=message)):
                    raise _SentLately(earlier)
        except _SentLately as repeat:
            form.offer_send_again()
            form.add_error(
                None,
                f"You sent this same message {_ago(repeat.earlier.created_at)} (to "
                f"{repeat.earlier.recipient}). Nothing was sent now. Tick “Send it again” to send a second copy.",
            )
        except ValidationError as exc:
            if isinstance(exc, services.BouncedAddress):
                form.offer_bounce_override()
            if "idempotency_key" in errors.error_dict(exc):
                _offer_as_new(form)  # says so in its own words, in place of the service's
                exc = ValidationError({k: v for k, v in exc.message_dict.items() if k != "idempotency_key"})
            errors.add_form_errors(form, exc)
        else:
            if made:
                flash.success(request, sent_words(message))
            else:
                flash.info(request, "This form was already sent: here is the message it made.")
            return redirect("messaging:detail", pk=message.pk)
    return render(request, "messaging/compose.html", {"form": form, **sending.notice_context(request)})


def sent_words(message) -> str:
    """What the Send button did, in words: queued, or held and what happens next."""
    if message.dispatch == Dispatch.HELD:
        name = message.patient.full_name if message.patient else "the patient"
        return (
            f"Saved, but not sent: it is not sent until {name} opts in to messages and someone here "
            "releases it from this page. Record the opt-in on the patient's page."
        )
    return "Message queued: it goes out in a moment."


def _prefill(request) -> dict:
    """?patient=<id>&channel=<channel> (the patient page's Send buttons): the patient, the channel and
    the patient's address on it. An id that is not this clinic's patient, or nonsense, pre-fills nothing."""
    asked = request.GET.get("patient", "")
    patient = (
        selectors.compose_patient(clinic=request.clinic, pk=asked) if asked.isascii() and asked.isdigit() else None
    )
    channel = request.GET.get("channel", "")
    channel = channel if channel in Channel.values else Channel.SMS
    if patient is None:
        return {"channel": channel} if "channel" in request.GET else {}
    address = str(getattr(patient, services.CONTACT_FIELD[channel]) or "")
    prefilled_from = f"{patient.pk}|{channel}|{address}"
    return {"patient": patient.pk, "channel": channel, "recipient": address, "prefilled_from": prefilled_from}


def _ago(at) -> str:
    """How long ago, in words: timesince says "0 minutes" for the first minute."""
    if timezone.now() - at < timedelta(minutes=1):
        return "less than a minute ago"
    return f"{timesince(at)} ago"


class _SentLately(Exception):
    """The message just made repeats one this person sent moments ago: undone, to ask first."""

    def __init__(self, earlier):
        self.earlier = earlier


def _offer_as_new(form) -> None:
    """The page was sent once and then changed (Back, edit, Send): say so, and give the form a new key,
    so pressing Send again sends the changed message as a new one."""
    form.data = form.data.copy()
    form.data["request_key"] = new_request_key()
    form.add_error(
        None, "This form was already sent with other contents. Press Send again to send this as a new message."
    )


@staff_required
def message_detail(request, pk):
    message = selectors.message_get(clinic=request.clinic, pk=pk)
    audit.opened(request, kind=audit.Kind.MESSAGE, obj=message, patient_id=message.patient_id)
    retried_as = selectors.message_retried_as(message=message)
    typed = request.session.pop(RETRY_TYPED, None) or {}
    can_release = (
        message.dispatch == Dispatch.HELD
        and message.patient is not None
        and message.patient.messaging_consent == "opted_in"
    )
    release_to, release_refused = "", ""
    if can_release:
        try:
            release_to = services.release_recipient(message)
        except ValidationError as exc:
            release_refused, can_release = " ".join(exc.messages), False
    return render(
        request,
        "messaging/message_detail.html",
        {
            "message": message,
            "timeline": timeline(selectors.message_events(message=message), channel=message.channel),
            "words": {"reference": REFERENCE_WORDS[message.channel], "attempts": ATTEMPTS_WORDS},
            "can_cancel": DISPATCH.can("cancel", message.dispatch),
            "can_retry": message.status == Status.FAILED and retried_as is None,
            "can_release": can_release,
            "release_to": release_to if release_to != message.recipient else "",
            "release_refused": release_refused,
            "contact_words": services.CONTACT_WORDS[message.channel],
            "retried_as": retried_as,
            "retry_recipient": typed.get("recipient", "") if typed.get("pk") == message.pk else "",
            "bounce": consent.bounce(clinic=request.clinic, channel=message.channel, address=message.recipient),
            **sending.notice_context(request),
        },
    )


@staff_required
@require_POST
def message_cancel(request, pk):
    message = selectors.message_get(clinic=request.clinic, pk=pk)
    try:
        services.message_cancel(message=message, user=request.user)
        flash.success(request, "Message cancelled.")
    except ValidationError as exc:
        flash.error(request, " ".join(exc.messages))
    return redirect("messaging:detail", pk=pk)


@staff_required
@require_POST
def message_retry(request, pk):
    message = selectors.message_get(clinic=request.clinic, pk=pk)
    try:
        retry = services.message_retry(
            message=message,
            user=request.user,
            send_despite_bounce=_bounce_seen(request, message),
            recipient=request.POST.get("recipient", "")[:254],
        )
    except ValidationError as exc:
        flash.error(request, "Not sent again: " + " ".join(exc.messages))
        typed = request.POST.get("recipient", "")[:254].strip()
        if typed:  # back in the box on the page redirected to, not in its URL (an address: patient data)
            request.session[RETRY_TYPED] = {"pk": message.pk, "recipient": typed}
        return redirect("messaging:detail", pk=pk)
    flash.success(request, f"Sent again as message #{retry.pk}.")
    return redirect("messaging:detail", pk=retry.pk)


@staff_required
@require_POST
def message_release(request, pk):
    message = selectors.message_get(clinic=request.clinic, pk=pk)
    try:
        written_for = message.recipient
        released = services.message_release(message=message, user=request.user)
        if released.recipient == written_for:
            flash.success(request, "Released: it goes out in a moment.")
        else:
            flash.success(
                request,
                f"Released to {released.recipient}, the patient's {services.CONTACT_WORDS[message.channel]} now "
                f"(it was written for {written_for}): it goes out in a moment.",
            )
    except ValidationError as exc:
        flash.error(request, " ".join(exc.messages))
    return redirect("messaging:detail", pk=pk)


def _bounce_seen(request, message) -> bool:
    """Whether the Retry form was shown with the address's current bounce warning (its time rides along),
    so pressing Retry confirms it; a bounce newer than the page refuses the retry with its warning."""
    bounce = consent.bounce(clinic=request.clinic, channel=message.channel, address=message.recipient)
    return bounce is not None and bounce.at is not None and request.POST.get("bounce_seen") == bounce.at.isoformat()
