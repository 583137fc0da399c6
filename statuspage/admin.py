"""Support's workspace: components, incidents with "Post update", maintenance, templates, subscribers.

Admin stays thin: every write goes through statuspage/services.py. Forms take and show times in the
page's time zone (STATUSPAGE_TIME_ZONE), with UTC on hover.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from kalix_site import errors
from kalix_site.admin import object_or_404
from statuspage import selectors, services, states
from statuspage.models import (
    Component,
    ComponentGroup,
    ComponentStatusChange,
    Incident,
    IncidentRevision,
    IncidentTemplate,
    IncidentUpdate,
    Notice,
    PlainIncident,
    ScheduledMaintenance,
    Subscriber,
)
from statuspage.templatetags.statuspage import page_time

NOT_AFFECTED = ""


def page_time_field(label: str, *, required: bool = False, help_text: str = "") -> forms.DateTimeField:
    """A date-time input that says, and takes, the page's time zone (never later than now)."""
    zone = selectors.page_zone()
    now = timezone.now().astimezone(zone)
    offset = now.strftime("%z")
    where = f"{zone.key} ({now:%Z}, UTC{offset[:3]}:{offset[3:]})"
    return forms.DateTimeField(
        required=required,
        label=f"{label} ({zone.key})",
        help_text=" ".join(filter(None, [help_text, f"In {where}."])),
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local", "step": "60", "data-page-now": now.strftime(INPUT_FORMAT)},
            format=INPUT_FORMAT,
        ),
    )


INPUT_FORMAT = "%Y-%m-%dT%H:%M"


def component_fields(form: forms.Form, *, initial: dict[int, str] | None = None, statuses=None) -> None:
    """One "new status" select per component (empty: not affected by this update), grouped as on the
    public page: `form.component_groups` lists (group name, field names) in the page's order."""
    statuses = statuses or states.COMPONENT_STATUS_CHOICES
    form.component_groups = []
    for entry in selectors.component_groups_for_forms():
        names = []
        for component in entry["components"]:
            name = f"component_{component.pk}"
            form.fields[name] = forms.ChoiceField(
                label=component.name,
                required=False,
                choices=[(NOT_AFFECTED, "— not affected —"), *statuses],
                initial=(initial or {}).get(component.pk, NOT_AFFECTED),
                help_text=f"Now: {states.COMPONENT_STATUS_LABELS[component.status]}",
            )
            names.append(name)
        form.component_groups.append((entry["group"].name if entry["group"] else "", names))


def chosen_components(form: forms.Form) -> dict[Component, str]:
    picked = {
        int(name.removeprefix("component_")): value
        for name, value in form.cleaned_data.items()
        if name.startswith("component_") and value
    }
    return {c: picked[c.pk] for c in Component.objects.filter(pk__in=picked)}


class PostUpdateForm(forms.Form):
    status = forms.ChoiceField()
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 6, "cols": 70}), help_text="Markdown.")
    notify = forms.BooleanField(required=False, initial=True, label="Notify subscribers")

    def __init__(self, *args, incident: Incident, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["display_at"] = page_time_field(
            "Display time", help_text="Leave empty for now; not before the previous update."
        )
        choices = (
            states.MAINTENANCE_STATUS_CHOICES
            if incident.kind == Incident.KIND_MAINTENANCE
            else states.INCIDENT_STATUS_CHOICES
        )
        self.fields["status"].choices = choices
        self.initial.setdefault("status", incident.status or choices[0][0])  # the incident's current status
        if incident.is_backfill:
            del self.fields["notify"]  # a backfilled incident never notifies
        self.order_fields(["status", "body", "display_at", "notify"])
        current = {link.component_id: link.status for link in incident.incident_components.all()}
        component_fields(self, initial=current)


class EditUpdateForm(forms.Form):
    """Correct a posted update: its status, text and time (components stay as posted)."""

    status = forms.ChoiceField()
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 6, "cols": 70}), help_text="Markdown.")

    def __init__(self, *args, update, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["display_at"] = page_time_field("Display time", required=True)
        kind = update.incident.kind
        choices = (
            states.MAINTENANCE_STATUS_CHOICES if kind == Incident.KIND_MAINTENANCE else states.INCIDENT_STATUS_CHOICES
        )
        self.fields["status"].choices = choices
        self.initial.update(status=update.status, body=update.body, display_at=update.display_at)


class OpenIncidentForm(forms.Form):
    template = forms.ModelChoiceField(
        queryset=IncidentTemplate.objects.all(), required=False, help_text="Optional: start from a template."
    )
    name = forms.CharField(max_length=200)
    impact = forms.ChoiceField(choices=states.IMPACT_CHOICES[:4], initial=states.IMPACT_MINOR)
    status = forms.ChoiceField(choices=states.INCIDENT_STATUS_CHOICES[:4], initial=states.INVESTIGATING)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 6, "cols": 70}), help_text="Markdown.")
    backfill = forms.BooleanField(
        required=False,
        label="Backfill a past incident",
        help_text="Enter an incident after the fact: it stays a draft (not public, no current status changes) "
        "while you add its updates, and is published already resolved. It never notifies anyone.",
    )
    notify = forms.BooleanField(required=False, initial=True, label="Notify subscribers")

    def __init__(self, *args, template: IncidentTemplate | None = None, **kwargs):
        initial = kwargs.pop("initial", {}) or {}
        affected = {}
        if template:
            initial.update(
                template=template.pk,
                name=template.title,
                impact=template.impact,
                status=template.status,
                body=template.body,
            )
            affected = {c.pk: template.component_status for c in template.components.all()}
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["started_at"] = page_time_field("Started at", help_text="Leave empty for now; never later.")
        self.order_fields(["template", "name", "impact", "status", "body", "started_at", "backfill", "notify"])
        component_fields(self, initial=affected)


class ScheduleMaintenanceForm(forms.Form):
    name = forms.CharField(max_length=200)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 5, "cols": 70}), help_text="Markdown.")
    components = forms.ModelMultipleChoiceField(queryset=Component.objects.all(), required=False)
    notify = forms.BooleanField(required=False, initial=True, label="Notify subscribers")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label in (("scheduled_for", "From"), ("scheduled_until", "Until")):
            field = page_time_field(label, required=True)
            field.widget.attrs.pop("data-page-now")
            self.fields[name] = field
        self.order_fields(["name", "scheduled_for", "scheduled_until", "body", "components", "notify"])


class IncidentChangeForm(forms.ModelForm):
    """The incident's own fields; a new start time is checked against its timeline before saving. The
    name is every subscriber email's subject, so a line break is a field error here (services.incident_edit
    refuses it too, but admin's save_model cannot show a service's error)."""

    class Meta:
        model = Incident
        fields = ["name", "impact", "started_at", "postmortem_body"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["started_at"] = page_time_field("Started at", help_text="Not in the future; empty keeps it.")

    def clean_name(self):
        name = self.cleaned_data["name"]
        try:
            services.check_name(name)
        except ValidationError as error:
            raise forms.ValidationError(error.message_dict["name"]) from None
        return name

    def clean(self):
        data = super().clean()
        if self.instance.pk and data.get("started_at"):
            try:
                services.incident_edit_check(incident=self.instance, started_at=data["started_at"])
            except ValidationError as error:
                errors.add_form_errors(self, error)
        return data


class InPageTimeZone:
    """Admin views of this app read and show times in the status page's time zone."""

    def changeform_view(self, request, *args, **kwargs):
        with timezone.override(selectors.page_zone()):
            return super().changeform_view(request, *args, **kwargs)

    def changelist_view(self, request, *args, **kwargs):
        with timezone.override(selectors.page_zone()):
            return super().changelist_view(request, *args, **kwargs)


@admin.register(ComponentGroup)
class ComponentGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "position"]
    list_editable = ["position"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.page_changed()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        services.page_changed()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        services.page_changed()


class ComponentForm(forms.ModelForm):
    set_status = forms.ChoiceField(
        choices=[(s, label) for s, label in states.COMPONENT_STATUS_CHOICES if s in states.SEVERITY],
        label="Base status",
        help_text="What the page shows is the worse of this and the statuses set by open incidents; "
        "an active maintenance overrides both.",
    )
    reason = forms.CharField(required=False, max_length=255, help_text="Logged with the status change.")

    class Meta:
        model = Component
        fields = [
            "group",
            "name",
            "description",
            "position",
            "only_show_if_degraded",
            "showcase",
            "start_date",
            "lane",
            "staff_path",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["set_status"].initial = self.instance.base_status


@admin.register(Component)
class ComponentAdmin(InPageTimeZone, admin.ModelAdmin):
    form = ComponentForm
    list_display = ["name", "group", "status_label", "base_status", "position", "lane"]
    list_filter = ["group", "status"]
    readonly_fields = ["status"]

    @admin.display(description="Shown status", ordering="status")
    def status_label(self, obj):
        return states.COMPONENT_STATUS_LABELS[obj.status]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.component_status_write(
            component=obj,
            base_status=form.cleaned_data["set_status"],
            source="manual",
            reason=form.cleaned_data["reason"] or "Set in admin",
            by=request.user,
        )
        services.page_changed()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        services.page_changed()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        services.page_changed()


@admin.register(ComponentStatusChange)
class ComponentStatusChangeAdmin(admin.ModelAdmin):
    list_display = ["component", "old_status", "new_status", "base_status", "source", "reason", "when", "changed_by"]
    list_filter = ["source", "component"]

    @admin.display(description="When", ordering="changed_at")
    def when(self, obj):
        return page_time(obj.changed_at)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class BaseIncidentAdmin(InPageTimeZone, admin.ModelAdmin):
    kind = Incident.KIND_INCIDENT
    change_form_template = "admin/statuspage/incident_change_form.html"
    list_display = ["name", "status_label", "impact", "started", "duration", "draft"]
    list_filter = ["status", "impact", "is_draft"]
    search_fields = ["name"]
    form = IncidentChangeForm
    fields = ["name", "impact", "started_at", "postmortem_body"]

    @admin.display(description="Status", ordering="status")
    def status_label(self, obj):
        return states.INCIDENT_STATUS_LABELS.get(obj.status, obj.status)

    @admin.display(description="Started", ordering="started_at")
    def started(self, obj):
        return page_time(obj.started_at)

    @admin.display(description="Duration")
    def duration(self, obj):
        return selectors.duration_label(obj)

    @admin.display(description="Draft", boolean=True, ordering="is_draft")
    def draft(self, obj):
        return obj.is_draft or bool(obj.proposed_status)

    def add_view(self, request, form_url="", extra_context=None):
        return redirect(f"admin:statuspage_{self.model._meta.model_name}_open")

    def save_model(self, request, obj, form, change):
        services.incident_edit(
            incident=obj,
            name=form.cleaned_data["name"],
            impact=form.cleaned_data["impact"],
            postmortem_body=form.cleaned_data["postmortem_body"],
            started_at=form.cleaned_data.get("started_at"),
            by=request.user,
        )

    def delete_model(self, request, obj):
        services.incident_delete(incident=obj)

    def delete_queryset(self, request, queryset):
        for incident in queryset:
            services.incident_delete(incident=incident)

    def get_urls(self):
        name = self.model._meta.model_name
        wrap = self.admin_site.admin_view
        return [
            path("open/", wrap(self.open_view), name=f"statuspage_{name}_open"),
            path("<int:pk>/post-update/", wrap(self.post_update_view), name=f"statuspage_{name}_post_update"),
            path("<int:pk>/publish/", wrap(self.publish_view), name=f"statuspage_{name}_publish"),
            path("<int:pk>/discard/", wrap(self.discard_view), name=f"statuspage_{name}_discard"),
            path("<int:pk>/preview/", wrap(self.preview_view), name=f"statuspage_{name}_preview"),
            path(
                "<int:pk>/updates/<int:update_pk>/edit/",
                wrap(self.edit_update_view),
                name=f"statuspage_{name}_edit_update",
            ),
            path(
                "<int:pk>/updates/<int:update_pk>/delete/",
                wrap(self.delete_update_view),
                name=f"statuspage_{name}_delete_update",
            ),
            *super().get_urls(),
        ]

    def render_form(self, request, *, title, form, incident=None, submit="Save"):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "incident": incident,
            "submit": submit,
            "page_time_zone": selectors.page_zone().key,
        }
        return TemplateResponse(request, "admin/statuspage/form.html", context)

    def _change_url(self, incident):
        return reverse(f"admin:statuspage_{self.model._meta.model_name}_change", args=[incident.pk])

    def post_update_view(self, request, pk: int):
        incident = object_or_404(Incident, pk, kind=self.kind)
        if not request.user.has_perm("statuspage.add_incidentupdate"):
            raise PermissionDenied
        with timezone.override(selectors.page_zone()):
            form = PostUpdateForm(request.POST or None, incident=incident)
            if request.method == "POST" and form.is_valid():
                try:
                    services.incident_post_update(
                        incident=incident,
                        status=form.cleaned_data["status"],
                        body=form.cleaned_data["body"],
                        components=chosen_components(form),
                        notify_subscribers=form.cleaned_data.get("notify", False),
                        display_at=form.cleaned_data["display_at"],
                        by=request.user,
                    )
                except ValidationError as error:
                    errors.add_form_errors(form, error)
                else:
                    self.message_user(request, f"Update posted to “{incident.name}”.", messages.SUCCESS)
                    return redirect(self._change_url(incident))
            return self.render_form(
                request, title=f"Post update: {incident.name}", form=form, incident=incident, submit="Post update"
            )

    def preview_view(self, request, pk: int):
        """The incident's public page as it will look, drafts included (nothing is cached)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        incident = selectors.incident_detail(pk, preview=True)
        if incident is None or incident.kind != self.kind:
            raise Http404
        return TemplateResponse(request, "statuspage/incident.html", {"incident": incident, "preview": True})

    def _update(self, pk: int, update_pk: int) -> IncidentUpdate:
        return get_object_or_404(
            IncidentUpdate.objects.select_related("incident"), pk=update_pk, incident__pk=pk, incident__kind=self.kind
        )

    def edit_update_view(self, request, pk: int, update_pk: int):
        update = self._update(pk, update_pk)
        if not request.user.has_perm("statuspage.change_incidentupdate"):
            raise PermissionDenied
        with timezone.override(selectors.page_zone()):
            form = EditUpdateForm(request.POST or None, update=update)
            if request.method == "POST" and form.is_valid():
                try:
                    services.incident_update_edit(
                        update=update,
                        status=form.cleaned_data["status"],
                        body=form.cleaned_data["body"],
                        display_at=form.cleaned_data["display_at"],
                        by=request.user,
                    )
                except ValidationError as error:
                    errors.add_form_errors(form, error)
                else:
                    self.message_user(request, "Update corrected.", messages.SUCCESS)
                    return redirect(self._change_url(update.incident))
            return self.render_form(
                request, title="Correct an update", form=form, incident=update.incident, submit="Save correction"
            )

    def delete_update_view(self, request, pk: int, update_pk: int):
        update = self._update(pk, update_pk)
        if not request.user.has_perm("statuspage.delete_incidentupdate"):
            raise PermissionDenied
        form = forms.Form(request.POST or None)
        if request.method == "POST":
            try:
                services.incident_update_delete(update=update, by=request.user)
            except ValidationError as error:
                self.message_user(request, errors.as_text(error), messages.ERROR)
            else:
                self.message_user(request, "Update deleted.", messages.SUCCESS)
            return redirect(self._change_url(update.incident))
        title = f"Delete the {update.get_status_display()} update of {page_time(update.display_at)}?"
        return self.render_form(request, title=title, form=form, incident=update.incident, submit="Delete update")

    def publish_view(self, request, pk: int):
        incident = object_or_404(Incident, pk, kind=self.kind)
        if request.method != "POST" or not self.has_change_permission(request, incident):
            raise PermissionDenied
        try:
            services.incident_publish_proposal(incident=incident, by=request.user)
        except ValidationError as error:
            self.message_user(request, "; ".join(error.messages), messages.ERROR)
        else:
            self.message_user(request, f"Published “{incident.name}”.", messages.SUCCESS)
        return redirect(self._change_url(incident))

    def discard_view(self, request, pk: int):
        incident = object_or_404(Incident, pk, kind=self.kind)
        if request.method != "POST" or not self.has_change_permission(request, incident):
            raise PermissionDenied
        was_draft = incident.is_draft
        services.incident_discard_draft(incident=incident)
        self.message_user(request, "Proposal discarded.", messages.SUCCESS)
        if was_draft:
            return redirect(f"admin:statuspage_{self.model._meta.model_name}_changelist")
        return redirect(self._change_url(incident))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        incident = object_or_404(Incident, object_id, kind=self.kind)
        updates = incident.updates.prefetch_related("affected__component").order_by("-display_at", "-id")
        extra = {
            "incident": incident,
            "updates": updates,
            "duration": selectors.duration_label(incident),
            "post_update_url": reverse(
                f"admin:statuspage_{self.model._meta.model_name}_post_update", args=[incident.pk]
            ),
            "publish_url": reverse(f"admin:statuspage_{self.model._meta.model_name}_publish", args=[incident.pk]),
            "discard_url": reverse(f"admin:statuspage_{self.model._meta.model_name}_discard", args=[incident.pk]),
            "preview_url": reverse(f"admin:statuspage_{self.model._meta.model_name}_preview", args=[incident.pk]),
            "edit_update_url": f"/admin/statuspage/{self.model._meta.model_name}/{incident.pk}/updates/",
            "revisions": incident.revisions.select_related("changed_by")[:50],
            "public_url": reverse("statuspage:incident", args=[incident.pk]),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra)


@admin.register(PlainIncident)
class IncidentAdmin(BaseIncidentAdmin):
    def open_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        template_id = request.GET.get("template")
        template = object_or_404(IncidentTemplate, template_id) if template_id else None
        with timezone.override(selectors.page_zone()):
            form = OpenIncidentForm(request.POST or None, template=template)
            if request.method == "POST" and form.is_valid():
                try:
                    incident = services.incident_open(
                        name=form.cleaned_data["name"],
                        status=form.cleaned_data["status"],
                        body=form.cleaned_data["body"],
                        impact=form.cleaned_data["impact"],
                        components=chosen_components(form),
                        notify_subscribers=form.cleaned_data["notify"],
                        started_at=form.cleaned_data["started_at"],
                        backfill=form.cleaned_data["backfill"],
                        by=request.user,
                    )
                except ValidationError as error:
                    errors.add_form_errors(form, error)
                else:
                    self.message_user(request, f"Incident “{incident.name}” opened.", messages.SUCCESS)
                    return redirect(self._change_url(incident))
            return self.render_form(request, title="Open an incident", form=form, submit="Open incident")


@admin.register(ScheduledMaintenance)
class ScheduledMaintenanceAdmin(BaseIncidentAdmin):
    kind = Incident.KIND_MAINTENANCE
    list_display = ["name", "status_label", "window_start", "window_end"]
    fields = ["name", "impact", "started_at", "postmortem_body"]

    @admin.display(description="From", ordering="scheduled_for")
    def window_start(self, obj):
        return page_time(obj.scheduled_for)

    @admin.display(description="Until", ordering="scheduled_until")
    def window_end(self, obj):
        return page_time(obj.scheduled_until)

    def open_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        with timezone.override(selectors.page_zone()):
            form = ScheduleMaintenanceForm(request.POST or None)
            if request.method == "POST" and form.is_valid():
                data = form.cleaned_data
                try:
                    maintenance = services.incident_open(
                        kind=Incident.KIND_MAINTENANCE,
                        name=data["name"],
                        status=states.SCHEDULED,
                        body=data["body"],
                        scheduled_for=data["scheduled_for"],
                        scheduled_until=data["scheduled_until"],
                        components=dict.fromkeys(data["components"], states.UNDER_MAINTENANCE),
                        notify_subscribers=data["notify"],
                        by=request.user,
                    )
                except ValidationError as error:
                    errors.add_form_errors(form, error)
                else:
                    self.message_user(request, f"Maintenance “{maintenance.name}” scheduled.", messages.SUCCESS)
                    return redirect(self._change_url(maintenance))
            return self.render_form(request, title="Schedule maintenance", form=form, submit="Schedule")


@admin.register(IncidentTemplate)
class IncidentTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "title", "status", "impact", "use"]
    filter_horizontal = ["components"]

    @admin.display(description="")
    def use(self, obj):
        url = reverse("admin:statuspage_plainincident_open") + f"?template={obj.pk}"
        return format_html('<a href="{}">Open an incident from this template</a>', url)


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ["__str__", "confirmed_at", "unsubscribed_at", "created_at"]
    list_filter = ["confirmed_at", "unsubscribed_at"]
    search_fields = ["email", "webhook_url"]
    fields = ["email", "webhook_url", "components", "confirmed_at", "unsubscribed_at"]
    readonly_fields = ["email", "webhook_url", "confirmed_at", "unsubscribed_at"]
    actions = ["unsubscribe"]

    def has_add_permission(self, request):
        return False  # people subscribe themselves on the public page, confirming their address

    @admin.action(description="Unsubscribe the selected subscribers", permissions=["change"])
    def unsubscribe(self, request, queryset):
        for subscriber in queryset:
            services.subscriber_unsubscribe(token=subscriber.token)
        self.message_user(request, f"Unsubscribed {queryset.count()}.", messages.SUCCESS)


@admin.register(IncidentRevision)
class IncidentRevisionAdmin(admin.ModelAdmin):
    """The audit of corrections: read only."""

    list_display = ["incident", "action", "update_id", "changed_by", "when"]
    list_filter = ["action"]

    @admin.display(description="When", ordering="changed_at")
    def when(self, obj):
        return page_time(obj.changed_at)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ["subscriber", "purpose", "incident", "state", "attempts", "next_attempt_at", "last_error"]
    list_filter = ["state", "purpose"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
