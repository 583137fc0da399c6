"""Queue operations in Django admin: the lane dashboard, lane controls, re-index jobs, queued messages
and the audit log. Registered from MessagingConfig.ready().

Seeing needs the view permissions, acting needs messaging.control_lane or
messaging.run_reindexjob; only Operations (and superusers) have them. Without them the buttons and actions are not shown
and the URLs answer 403. Every action calls a service in messaging.lane_controls or messaging.reindex.
"""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from messaging import inbox, lane_controls, reindex
from messaging.lane_stats import dashboard
from messaging.models import Lane, LaneAction, LaneOrder, QueuedMessage, ReindexJob, ReindexState

CONTROL = "messaging.control_lane"
RUN_REINDEX = "messaging.run_reindexjob"


def progress_bar(job: ReindexJob) -> str:
    return format_html(
        '<div class="kalix-progress" role="progressbar" aria-valuenow="{}" aria-valuemin="0" aria-valuemax="100" '
        'data-percent="{}"><span style="width:{}%"></span></div> <b>{}%</b>',
        f"{job.percent:.0f}",
        f"{job.percent:.1f}",
        f"{job.percent:.1f}",
        f"{job.percent:.0f}",
    )


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


# --- Lanes: the dashboard is the Lane changelist, its controls are POST-only URLs beside it ----------


class LaneControlForm(forms.Form):
    older_than_minutes = forms.IntegerField(min_value=0, required=False)
    share = forms.FloatField(min_value=0, max_value=1, required=False)
    order = forms.ChoiceField(choices=LaneOrder.choices, required=False)


@admin.register(Lane)
class LaneAdmin(admin.ModelAdmin):
    """/admin/messaging/lane/ is the queue dashboard."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        control = [
            path("undo/<int:action_id>/", self.admin_site.admin_view(require_POST(self.undo_view)), name="lane_undo"),
            path(
                "<str:lane>/<str:command>/",
                self.admin_site.admin_view(require_POST(self.control_view)),
                name="messaging_lane_control",
            ),
        ]
        return control + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Queue lanes",
            "opts": self.model._meta,
            "lanes": dashboard(),
            "jobs": [
                {"job": job, "bar": progress_bar(job), "eta": duration(job.eta_s)}
                for job in ReindexJob.objects.filter(
                    state__in=[ReindexState.QUEUED, ReindexState.RUNNING, ReindexState.PAUSED]
                ).select_related("clinic")
            ],
            "actions_log": LaneAction.objects.select_related("actor", "undone_by")[:15],
            # delivery reports given up on: not live work, so not in the lane's depth or age
            "parked_reports": inbox.parked_count(),
            "parked_reports_url": reverse("admin:messaging_webhookinbox_changelist") + "?state=parked",
            "can_control": request.user.has_perm(CONTROL),
            "can_reindex": request.user.has_perm(RUN_REINDEX),
            "refresh_seconds": settings.LANE_DASHBOARD_REFRESH_SECONDS,
            "orders": LaneOrder.choices,
            "duration": duration,
        }
        template = "messaging/admin/lanes_partial.html" if request.GET.get("partial") else "messaging/admin/lanes.html"
        return TemplateResponse(request, template, context)

    def control_view(self, request, lane, command):
        if not request.user.has_perm(CONTROL):
            raise PermissionDenied
        form = LaneControlForm(request.POST)
        back = HttpResponseRedirect(reverse("admin:messaging_lane_changelist"))
        if not form.is_valid():
            self.message_user(request, f"Not done: {form.errors.as_text()}", messages.ERROR)
            return back
        data, actor = form.cleaned_data, request.user
        try:
            if command == "pause":
                action = lane_controls.lane_pause(lane=lane, actor=actor)
            elif command == "resume":
                action = lane_controls.lane_resume(lane=lane, actor=actor)
            elif command == "order":
                action = lane_controls.lane_set_order(lane=lane, order=data["order"], actor=actor)
            elif command == "share":
                action = lane_controls.lane_set_backlog_share(lane=lane, share=data["share"] or 0.0, actor=actor)
            elif command == "backlog":
                minutes = data["older_than_minutes"]
                if minutes is None:
                    raise ValidationError({"older_than_minutes": "Say how old."})
                action = lane_controls.lane_move_to_backlog(
                    lane=lane, older_than=timedelta(minutes=minutes), actor=actor
                )
            elif command == "restore":
                action = lane_controls.lane_restore_backlog(lane=lane, actor=actor)
            else:
                raise PermissionDenied  # no such control
        except ValidationError as exc:
            self.message_user(request, f"Not done: {'; '.join(exc.messages)}", messages.ERROR)
            return back
        self.message_user(request, f"{lane}: {action.detail} ({action.rows} rows). Recorded as action #{action.pk}.")
        return back

    def undo_view(self, request, action_id):
        if not request.user.has_perm(CONTROL):
            raise PermissionDenied
        action = get_object_or_404(LaneAction, pk=action_id)
        try:
            done = lane_controls.lane_action_undo(action=action, actor=request.user)
        except ValidationError as exc:
            self.message_user(request, f"Not undone: {'; '.join(exc.messages)}", messages.ERROR)
        else:
            self.message_user(request, f"Reversed action #{action.pk}: {done.detail} ({done.rows} rows).")
        return HttpResponseRedirect(reverse("admin:messaging_lane_changelist"))


@admin.register(LaneAction)
class LaneActionAdmin(admin.ModelAdmin):
    list_display = ["at", "actor", "lane", "action", "rows", "detail", "undone_by"]
    list_filter = ["lane", "action"]
    list_select_related = ["actor", "undone_by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Queued messages: promote, backlog, restore on a selection --------------------------------------


@admin.register(QueuedMessage)
class QueuedMessageAdmin(admin.ModelAdmin):
    """Queued messages in claim order. No recipient, subject or body: operators steer, they do not read."""

    list_display = ["id", "clinic", "channel", "lane", "priority", "in_backlog", "created_at", "waiting"]
    list_filter = ["lane", "channel"]
    list_select_related = ["clinic"]
    actions = ["promote", "to_backlog", "restore"]
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(dispatch="queued").order_by("lane", "priority", "id")

    @admin.display(boolean=True, description="backlog")
    def in_backlog(self, obj):
        return obj.priority >= settings.LANE_BACKLOG_PRIORITY

    @admin.display(description="waiting")
    def waiting(self, obj):
        return duration((timezone.now() - obj.created_at).total_seconds())

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_control_permission(self, request):
        return request.user.has_perm(CONTROL)

    def _by_lane(self, queryset) -> dict[str, list[int]]:
        lanes: dict[str, list[int]] = {}
        for pk, lane in queryset.values_list("id", "lane"):
            lanes.setdefault(lane, []).append(pk)
        return lanes

    def _report(self, request, done: list[LaneAction]):
        for action in done:
            self.message_user(request, f"{action.lane}: {action.detail} ({action.rows} rows), action #{action.pk}.")

    @admin.action(permissions=["control"], description="Promote selected to the front")
    def promote(self, request, queryset):
        try:
            done = [
                lane_controls.lane_promote(lane=lane, ids=ids, actor=request.user)
                for lane, ids in self._by_lane(queryset).items()
            ]
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
            return
        self._report(request, done)

    @admin.action(permissions=["control"], description="Move selected to the backlog")
    def to_backlog(self, request, queryset):
        self._report(
            request,
            [
                lane_controls.lane_move_to_backlog(lane=lane, ids=ids, actor=request.user)
                for lane, ids in self._by_lane(queryset).items()
            ],
        )

    @admin.action(permissions=["control"], description="Put selected back from the backlog")
    def restore(self, request, queryset):
        self._report(
            request,
            [
                lane_controls.lane_restore_backlog(lane=lane, ids=ids, actor=request.user)
                for lane, ids in self._by_lane(queryset).items()
            ],
        )


# --- Re-index jobs: the add form is "Trigger re-index"; throttle editable while it runs ---------------


class ReindexStartForm(forms.ModelForm):
    class Meta:
        model = ReindexJob
        fields = ["scope", "clinic", "created_from", "created_to", "throttle", "chunk_size"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["chunk_size"].required = False
        self.fields["chunk_size"].help_text = f"Messages per chunk (default {settings.REINDEX_CHUNK_SIZE})."
        self.fields["throttle"].initial = settings.REINDEX_DEFAULT_THROTTLE

    def clean(self):
        data = super().clean()
        try:
            reindex._validate_scope(
                scope=data.get("scope"),
                clinic=data.get("clinic"),
                created_from=data.get("created_from"),
                created_to=data.get("created_to"),
                throttle=data.get("throttle"),
                chunk_size=data.get("chunk_size"),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return data


class ReindexThrottleForm(forms.ModelForm):
    class Meta:
        model = ReindexJob
        fields = ["throttle"]


@admin.register(ReindexJob)
class ReindexJobAdmin(admin.ModelAdmin):
    list_display = ["__str__", "state", "progress", "rows", "rows_changed", "rate", "eta", "throttle", "waiting"]
    list_filter = ["state", "scope"]
    list_select_related = ["clinic", "created_by"]
    actions = ["reindex_again", "pause", "resume", "cancel"]
    change_list_template = "messaging/admin/reindexjob_change_list.html"

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = ReindexThrottleForm if obj is not None else ReindexStartForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["scope", "clinic", "created_from", "created_to", "throttle", "chunk_size"]
        return ["throttle"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["state", "progress", "rows", "rows_changed", "rate", "eta", "waiting", "cursor", "error"]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": self.get_fields(request)})]
        return [
            ("Throttle (takes effect on the next chunk)", {"fields": ["throttle"]}),
            ("Progress", {"fields": self.get_readonly_fields(request, obj)}),
        ]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            reindex.reindex_set_throttle(job=obj, throttle=data["throttle"], actor=request.user)
            return
        job = reindex.reindex_start(
            scope=data["scope"],
            clinic=data.get("clinic"),
            created_from=data.get("created_from"),
            created_to=data.get("created_to"),
            throttle=data.get("throttle"),
            chunk_size=data.get("chunk_size"),
            actor=request.user,
        )
        obj.pk = job.pk
        obj.refresh_from_db()

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(request, f"Started {obj}: {obj.total_rows} messages on the bulk lane.")
        return HttpResponseRedirect(reverse("admin:messaging_reindexjob_changelist"))

    def changelist_view(self, request, extra_context=None):
        active = ReindexJob.objects.filter(state__in=[ReindexState.QUEUED, ReindexState.RUNNING]).exists()
        extra = {"refresh_seconds": settings.LANE_DASHBOARD_REFRESH_SECONDS if active else 0, **(extra_context or {})}
        return super().changelist_view(request, extra)

    # Only Operations and superusers start or steer jobs; Support sees them.
    def has_add_permission(self, request):
        return request.user.has_perm(RUN_REINDEX)

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm(RUN_REINDEX) and (obj is None or obj.state in reindex.ACTIVE + ("paused",))

    def has_delete_permission(self, request, obj=None):
        return False

    def has_run_permission(self, request):
        return request.user.has_perm(RUN_REINDEX)

    @admin.display(description="progress")
    def progress(self, job):
        return progress_bar(job)

    @admin.display(description="rows done")
    def rows(self, job):
        return f"{job.rows_done:,} / {job.total_rows:,}"

    @admin.display(description="rows/s")
    def rate(self, job):
        return f"{job.rows_per_s:,.0f}" if job.state == ReindexState.RUNNING else "-"

    @admin.display(description="ETA")
    def eta(self, job):
        return duration(job.eta_s)

    def _move(self, request, queryset, service, verb):
        moved = [job for job in queryset if service(job=job, actor=request.user)]
        skipped = queryset.count() - len(moved)
        self.message_user(request, f"{verb} {len(moved)} job(s)" + (f"; {skipped} could not be" if skipped else "."))

    @admin.action(permissions=["run"], description="Trigger re-index again with the same scope and throttle")
    def reindex_again(self, request, queryset):
        for old in queryset:
            job = reindex.reindex_start(
                scope=old.scope,
                clinic=old.clinic,
                created_from=old.created_from,
                created_to=old.created_to,
                throttle=old.throttle,
                chunk_size=old.chunk_size,
                actor=request.user,
            )
            self.message_user(request, f"Started {job}: {job.total_rows} messages on the bulk lane.")

    @admin.action(permissions=["run"], description="Pause selected jobs")
    def pause(self, request, queryset):
        self._move(request, queryset, reindex.reindex_pause, "Paused")

    @admin.action(permissions=["run"], description="Resume selected jobs")
    def resume(self, request, queryset):
        self._move(request, queryset, reindex.reindex_resume, "Resumed")

    @admin.action(permissions=["run"], description="Cancel selected jobs")
    def cancel(self, request, queryset):
        self._move(request, queryset, reindex.reindex_cancel, "Cancelled")
