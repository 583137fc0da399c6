"""Staff pages for two-way SMS: the inbox (threads with unread counts) and a thread, where opening it
marks its texts read and staff reply. Thin: messaging.threads reads, message_send sends."""

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from clinics.views import staff_required
from kalix_site import errors
from messaging import services, threads
from messaging.forms import ReplyForm


@staff_required
def inbox(request):
    return render(
        request,
        "messaging/inbox.html",
        {"threads": threads.inbox(clinic=request.clinic)[:200], "unread": threads.unread_count(clinic=request.clinic)},
    )


@staff_required
def thread_detail(request, pk):
    thread = threads.thread_get(clinic=request.clinic, pk=pk)
    form = ReplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            message, made = services.message_send_or_replay(
                clinic=request.clinic,
                patient=thread.patient,
                channel="sms",
                recipient=thread.number,
                body=form.cleaned_data["body"],
                created_by=request.user,
                idempotency_key=form.cleaned_data["request_key"],
            )
        except ValidationError as exc:
            errors.add_form_errors(form, exc)
        else:
            flash.success(request, "Reply queued." if made else "This reply was already sent.")
            return redirect("messaging:thread", pk=thread.pk)
    threads.mark_read(thread=thread)
    return render(
        request, "messaging/thread.html", {"thread": thread, "lines": threads.thread_lines(thread), "form": form}
    )
