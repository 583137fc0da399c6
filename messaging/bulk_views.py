"""Staff pages for bulk sends: choose a template and a list, see how many it reaches, create the job;
watch its progress; cancel it before it is sent, or run it again. Thin: messaging.bulk does the work."""

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from clinics.views import staff_required
from kalix_site import errors
from messaging import bulk
from messaging.forms import BulkForm
from messaging.models import BulkSend


@staff_required
def bulk_list(request):
    form = BulkForm(request.POST or None, clinic=request.clinic)
    count = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            bulk.check_fits(template=data["template"], audience=data["audience"])
        except ValidationError as exc:
            errors.add_form_errors(form, exc)  # no count, so no Create button beside the error
        else:
            count = bulk.audience_count(clinic=request.clinic, audience=data["audience"])
        if count is not None and "create" in request.POST:
            try:
                job = bulk.bulk_create(clinic=request.clinic, created_by=request.user, **data)
            except ValidationError as exc:
                errors.add_form_errors(form, exc)
            else:
                flash.success(
                    request, f"Bulk send created for {job.expected} patients; the messages are being prepared."
                )
                return redirect("messaging:bulk-detail", pk=job.pk)
    return render(
        request, "messaging/bulk_list.html", {"form": form, "count": count, "jobs": bulk.jobs_of(clinic=request.clinic)}
    )


@staff_required
def bulk_detail(request, pk):
    job = get_object_or_404(BulkSend.objects.select_related("template"), clinic=request.clinic, pk=pk)
    return render(
        request,
        "messaging/bulk_detail.html",
        {
            "job": job,
            "progress": sorted(bulk.job_progress(job).items()),
            "can_cancel": bulk.JOB.can("cancel", job.state),
            "can_run_again": bulk.JOB.can("run_again", job.state),
        },
    )


@staff_required
@require_POST
def bulk_cancel(request, pk):
    job = get_object_or_404(BulkSend, clinic=request.clinic, pk=pk)
    try:
        cancelled = bulk.bulk_cancel(job=job, user=request.user)
        flash.success(request, f"Bulk send cancelled; {cancelled} messages not yet sent were cancelled.")
    except ValidationError as exc:
        flash.error(request, errors.as_text(exc))
    return redirect("messaging:bulk-detail", pk=pk)


@staff_required
@require_POST
def bulk_run_again(request, pk):
    job = get_object_or_404(BulkSend, clinic=request.clinic, pk=pk)
    try:
        bulk.bulk_run_again(job=job)
        flash.success(request, "Running again: only patients without a message from this job get one.")
    except ValidationError as exc:
        flash.error(request, errors.as_text(exc))
    return redirect("messaging:bulk-detail", pk=pk)
