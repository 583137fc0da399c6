"""Staff pages for templates and reminder rules: list, create, edit with a preview of the rendered text
and its SMS size. Thin: templating and reminders do the work."""

from datetime import time, timedelta

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinics.appointments import local_datetime
from clinics.views import staff_required
from kalix_site import errors
from messaging import reminders, templating
from messaging.forms import RuleForm, TemplateForm
from messaging.models import MessageTemplate, ReminderRule

SAMPLE_FIRST_NAME = "Alex"


def sample_values(clinic) -> dict[str, str]:
    """What the preview fills in: a sample first name, this clinic, tomorrow at 9:30 in its time."""
    tomorrow = timezone.localtime(timezone.now(), clinic.tzinfo).date() + timedelta(days=1)
    return templating.values_for(
        clinic=clinic, first_name=SAMPLE_FIRST_NAME, starts_at=local_datetime(clinic, tomorrow, time(9, 30))
    )


@staff_required
def template_list(request):
    form = TemplateForm(request.POST or None)
    preview = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            templating.check(data["body"])
            preview = templating.preview(data["body"], sample_values(request.clinic))
            if "save" in request.POST:
                template = templating.template_save(clinic=request.clinic, **data)
                flash.success(request, f"Template “{template.name}” saved.")
                return redirect("messaging:template-edit", pk=template.pk)
        except ValidationError as exc:
            errors.add_form_errors(form, exc)
            preview = None
    return render(
        request,
        "messaging/template_list.html",
        {
            "templates": MessageTemplate.objects.filter(clinic=request.clinic),
            "rules": reminders.rules_of(request.clinic),
            "form": form,
            "rule_form": RuleForm(clinic=request.clinic),
            "preview": preview,
            "fields": templating.FIELDS,
        },
    )


@staff_required
def template_edit(request, pk):
    template = get_object_or_404(MessageTemplate, clinic=request.clinic, pk=pk)
    initial = {"name": template.name, "channel": template.channel, "subject": template.subject, "body": template.body}
    form = TemplateForm(request.POST or None, initial=initial)
    preview = None
    if request.method == "GET":
        preview = templating.preview(template.body, sample_values(request.clinic))
    elif form.is_valid():
        try:
            templating.check(form.cleaned_data["body"])
            preview = templating.preview(form.cleaned_data["body"], sample_values(request.clinic))
            if "save" in request.POST:
                templating.template_save(clinic=request.clinic, template=template, **form.cleaned_data)
                flash.success(request, "Template saved.")
                return redirect("messaging:template-edit", pk=template.pk)
        except ValidationError as exc:
            errors.add_form_errors(form, exc)
            preview = None
    return render(
        request,
        "messaging/template_edit.html",
        {"template": template, "form": form, "preview": preview, "fields": templating.FIELDS},
    )


@staff_required
@require_POST
def rule_create(request):
    form = RuleForm(request.POST, clinic=request.clinic)
    if form.is_valid():
        try:
            reminders.rule_create(clinic=request.clinic, **form.cleaned_data)
            flash.success(request, "Reminder rule added.")
        except ValidationError as exc:
            flash.error(request, errors.as_text(exc))
    else:
        flash.error(request, " ".join(e for field in form.errors.values() for e in field))
    return redirect("messaging:templates")


@staff_required
@require_POST
def rule_toggle(request, pk):
    rule = get_object_or_404(ReminderRule, clinic=request.clinic, pk=pk)
    reminders.rule_set_active(rule=rule, active=not rule.active)
    flash.success(request, f"Rule “{rule}” {'turned on' if rule.active else 'turned off'}.")
    return redirect("messaging:templates")
