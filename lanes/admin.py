"""Queue operations in Django admin: the lane dashboard, lane controls, re-index jobs and the audit log.
(Each domain app steers its own queued rows in its own admin, e.g. messaging's queued messages.)

Seeing needs the view permissions, acting needs lanes.control_lane or
lanes.run_reindexjob; only Operations (and superusers) have them. Without them the buttons and actions are not shown
and the URLs answer 403. Every action calls a service in lanes.controls or lanes.reindex.
"""

import re
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from lanes import buckets, registry, reindex
from lanes import controls as lane_controls
from lanes.models import (
    BURST_MAX,
    RATE_MAX,
    RATE_MIN,
    Circuit,
    Lane,
    LaneAction,
    LaneOrder,
    RateBucket,
    ReindexJob,
    ReindexState,
)
from lanes.stats import dashboard, duration

CONTROL = lane_controls.CONTROL_PERMISSION
RUN_REINDEX = "lanes.run_reindexjob"


def progress_bar(job: ReindexJob) -> str:
    return format_html(
        # <progress>, not a styled span: the Content-Security-Policy refuses style attributes
        '<progress class="kalix-progress" max="100" value="{}" data-percent="{}"></progress> <b>{}%</b>',
        f"{job.percent:.1f}",
        f"{job.percent:.1f}",
        f"{job.percent:.0f}",
    )


# --- Lanes: the dashboard is the Lane changelist, its controls are POST-only URLs beside it ----------


class ReasonForm(forms.Form):
    """Why: asked before a pause or a cancel. The services refuse a blank one with the words to show."""

    reason = forms.CharField(
        required=False,
        max_length=255,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Kept in the audit log with your name.",
    )


def reason_errors(form: ReasonForm, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


class LaneControlForm(forms.Form):
    # A century is older than anything queued; beyond it timedelta overflows (a 500, issue 14).
    older_than_minutes = forms.IntegerField(min_value=0, max_value=100 * 365 * 24 * 60, required=False)
    share = forms.FloatField(min_value=0, max_value=1, required=False)
    order = forms.ChoiceField(choices=LaneOrder.choices, required=False)


def form_errors_in_words(form: forms.Form) -> str:
    """ "share: Enter a number." for a flash message (as_text() gives "* share\\n  * Enter a number.")."""

    def label(name):
        field = form.fields.get(name)
        return (field and field.label) or name.replace("_", " ")

    return "; ".join(f"{label(name)}: {' '.join(errors)}" for name, errors in form.errors.items())


@admin.register(Lane)
class LaneAdmin(admin.ModelAdmin):
    """/admin/lanes/lane/ is the queue dashboard."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        control = [
            path("undo/<int:action_id>/", self.admin_site.admin_view(require_POST(self.undo_view)), name="lane_undo"),
            # before the generic control: a pause is confirmed on a page of its own, with a reason
            path("<str:lane>/pause/", self.admin_site.admin_view(self.pause_view), name="lanes_lane_pause"),
            path(
                "<str:lane>/<str:command>/",
                self.admin_site.admin_view(require_POST(self.control_view)),
                name="lanes_lane_control",
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
            "buckets": buckets.overview(),
            "circuits": Circuit.objects.all(),
            "can_control": request.user.has_perm(CONTROL),
            "can_reindex": request.user.has_perm(RUN_REINDEX),
            "refresh_seconds": settings.LANE_DASHBOARD_REFRESH_SECONDS,
            "orders": LaneOrder.choices,
            "duration": duration,
        }
        template = "lanes/admin/lanes_partial.html" if request.GET.get("partial") else "lanes/admin/lanes.html"
        return TemplateResponse(request, template, context)

    def control_view(self, request, lane, command):
        if not request.user.has_perm(CONTROL):
            raise PermissionDenied
        form = LaneControlForm(request.POST)
        back = HttpResponseRedirect(reverse("admin:lanes_lane_changelist"))
        if not form.is_valid():
            self.message_user(request, f"Not done: {form_errors_in_words(form)}", messages.ERROR)
            return back
        data, actor = form.cleaned_data, request.user
        try:
            if command == "resume":
                action = lane_controls.lane_resume(lane=lane, actor=actor)
            elif command == "order":
                action = lane_controls.lane_set_order(lane=lane, order=data["order"], actor=actor)
            elif command == "share":
                if data["share"] is None:  # a number box sends "" for what it cannot read ("abc"): not 0
                    raise ValidationError({"share": "Enter a share from 0 to 1."})
                action = lane_controls.lane_set_backlog_share(lane=lane, share=data["share"], actor=actor)
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

    def pause_view(self, request, lane):
        """GET: what a pause of `lane` stops, and a reason to give. POST: pause, if a reason was given."""
        if not request.user.has_perm(CONTROL):
            raise PermissionDenied
        if lane not in settings.LANES:
            raise Http404(f"No lane {lane!r}")
        form = ReasonForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                action = lane_controls.lane_pause(lane=lane, reason=form.cleaned_data["reason"], actor=request.user)
            except ValidationError as exc:
                reason_errors(form, exc)
            else:
                self.message_user(request, f"{lane}: paused ({action.reason}). Recorded as action #{action.pk}.")
                return HttpResponseRedirect(reverse("admin:lanes_lane_changelist"))
        snapshot = {item["name"]: item for item in dashboard()}.get(lane, {})
        context = {
            **self.admin_site.each_context(request),
            "title": f"Pause the {lane} lane?",
            "opts": self.model._meta,
            "lane": lane,
            "stops": lane_controls.stopped_by_pause(lane),
            "keeps": snapshot.get("runs_while_paused", []),
            "depth": snapshot.get("depth", 0),
            "form": form,
        }
        return TemplateResponse(request, "lanes/admin/confirm_pause.html", context)

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
        return HttpResponseRedirect(reverse("admin:lanes_lane_changelist"))


@admin.register(LaneAction)
class LaneActionAdmin(admin.ModelAdmin):
    list_display = ["at", "actor", "lane", "action", "rows", "detail", "reason", "undone_by"]
    list_filter = ["lane", "action"]
    list_select_related = ["actor", "undone_by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
    change_list_template = "lanes/admin/reindexjob_change_list.html"

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
        if obj.state == ReindexState.DONE:
            self.message_user(request, f"Nothing in scope: {obj} is done.", messages.WARNING)
        else:
            self.message_user(request, f"Started {obj}: {obj.total_rows} messages on the bulk lane.")
        return HttpResponseRedirect(reverse("admin:lanes_reindexjob_changelist"))

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

    def _move(self, request, queryset, service, verb, **reason):
        """Move each job; say how many moved, and for each that did not, why (a warning)."""
        jobs = list(queryset)
        moved = [job for job in jobs if service(job=job, actor=request.user, **reason)]
        if moved:
            self.message_user(request, f"{verb} {len(moved)} job(s).")
        refused = [
            f"Re-index #{job.pk} could not be {verb.lower()}: {reindex.REFUSED_BECAUSE[job.state]}."
            for job in jobs
            if job not in moved
        ]
        if refused:
            self.message_user(request, " ".join(refused), messages.WARNING)

    def _confirmed_move(self, request, queryset, service, *, ask: str, verb: str, consequence: str):
        """Ask first (a page with the jobs and a reason), as delete_selected does; move once confirmed."""
        form = ReasonForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            try:
                self._move(request, queryset, service, verb, reason=form.cleaned_data["reason"])
            except ValidationError as exc:
                reason_errors(form, exc)
            else:
                return None  # back to the job list
        context = {
            **self.admin_site.each_context(request),
            "title": f"{ask} {queryset.count()} re-index job(s)?",
            "ask": ask,
            "opts": self.model._meta,
            "jobs": list(queryset),
            "action": request.POST.get("action"),
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "verb": verb,
            "consequence": consequence,
            "form": form,
        }
        return TemplateResponse(request, "lanes/admin/confirm_reindex.html", context)

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
        consequence = "They stop after the chunk in progress; their remaining rows stay stale until resumed."
        return self._confirmed_move(
            request, queryset, reindex.reindex_pause, ask="Pause", verb="Paused", consequence=consequence
        )

    @admin.action(permissions=["run"], description="Resume selected jobs")
    def resume(self, request, queryset):
        self._move(request, queryset, reindex.reindex_resume, "Resumed")

    @admin.action(permissions=["run"], description="Cancel selected jobs")
    def cancel(self, request, queryset):
        consequence = "They stop for good; the rows not yet done stay stale until a new re-index."
        return self._confirmed_move(
            request, queryset, reindex.reindex_cancel, ask="Cancel", verb="Cancelled", consequence=consequence
        )


class PointDecimalField(forms.FloatField):
    """A number typed as text, with a point for decimals. A browser's number box reads "5,5" as 55 in an
    English locale (the comma is a thousands separator there): a rate set ten times too high. As text,
    the comma reaches us and is refused with the reason."""

    widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
    default_error_messages = {
        "comma": 'Use a point for decimals ("5.5"), without commas.',
        "invalid": 'Enter a number, such as "5" or "0.5".',
    }

    # Digits with one optional point (a sign, so "-5" hears about the lower bound): float() alone takes
    # "1e3", "1_000" and "infinity" too, a rate nobody typed on purpose.
    WRITTEN = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")

    def to_python(self, value):
        if isinstance(value, str) and "," in value:
            raise forms.ValidationError(self.error_messages["comma"], code="comma")
        if isinstance(value, str):
            value = value.strip()
            if value and not self.WRITTEN.fullmatch(value):
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)

    def widget_attrs(self, widget):
        return forms.Field.widget_attrs(self, widget)  # no min/max/step: those belong to a number box


class RateBucketForm(forms.ModelForm):
    """A bucket's name must be one some provider draws from now (lanes.registry.bucket_names_in_use): a
    typo in an account or a sender makes a bucket that limits nobody while the real one goes on unlimited."""

    rate_per_s = PointDecimalField(
        label="Rate per s",
        min_value=RATE_MIN,
        max_value=RATE_MAX,
        help_text=RateBucket._meta.get_field("rate_per_s").help_text,
    )
    # the model's PositiveIntegerField would give the box min=0 and a ">= 0" message; 0 lets nothing go
    burst = forms.IntegerField(
        label="Burst",
        min_value=1,
        max_value=BURST_MAX,
        initial=RateBucket._meta.get_field("burst").default,
        help_text=RateBucket._meta.get_field("burst").help_text,
    )

    # What the page showed, signed: a stale tab's save keeps what was saved meanwhile (two tabs, two operators)
    opened = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = RateBucket
        fields = ["name", "rate_per_s", "burst"]

    SETTINGS = ("rate_per_s", "burst")
    SALT = "lanes.ratebucket.opened"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            shown = {f: getattr(self.instance, f) for f in self.SETTINGS}
            self.fields["opened"].initial = signing.dumps(shown, salt=self.SALT)

    def clean(self):
        """A setting this person left as the page showed it keeps what was saved since; one they changed
        that someone else also changed, to something else, is an error and nothing is saved."""
        data = super().clean()
        if not (self.instance.pk and data.get("opened")):
            return data
        try:
            opened = signing.loads(data["opened"], salt=self.SALT)
        except signing.BadSignature:
            raise ValidationError("This page is out of date: open the bucket again.") from None
        current = RateBucket.objects.filter(pk=self.instance.pk).values(*self.SETTINGS).first() or {}
        for name in self.SETTINGS:
            if name not in data or name not in current:
                continue
            typed, was, now = data[name], opened.get(name), current[name]
            if typed == was:
                data[name] = now  # untouched here: what was saved meanwhile stands
            elif now not in (was, typed):
                self.add_error(name, f"Saved meanwhile as {now:g} by someone else: check it, then save again.")
        return data

    def clean_name(self):
        name = self.cleaned_data["name"]
        RateBucket._meta.get_field("name").run_validators(name)  # its pattern's words first, not "not in use"
        in_use = registry.bucket_names_in_use()
        if in_use is None or name in in_use:
            return name
        account = ":".join(name.split(":", 2)[:2])
        if account not in in_use:
            accounts = _some(n for n in in_use if n.count(":") == 1)
            raise ValidationError(f"No provider sends through the account {account!r}. In use now: {accounts}.")
        senders = _some(n for n in in_use if n.startswith(account + ":")) or "none"
        raise ValidationError(f"{account} sends from no {name.split(':', 2)[2]!r}. Its senders now: {senders}.")


def _some(names, shown: int = 8) -> str:
    names = sorted(names)
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


USE_LABEL = RateBucket._meta.get_field("use_per_s").verbose_name


@admin.register(RateBucket)
class RateBucketAdmin(admin.ModelAdmin):
    """A provider account's rate limit, as data (lanes.buckets): set here, used by every worker."""

    form = RateBucketForm

    # use_now: use_per_s to two decimals (a model field's name would show the field's raw float)
    list_display = ("name", "rate_per_s", "burst", "current_rate", "use_now", "throttled", "last_throttled_at")
    fields = (
        "name",
        "rate_per_s",
        "burst",
        "opened",
        "current_rate",
        "use_now",
        "taken",
        "throttled",
        "last_throttled_at",
    )
    readonly_fields = ("current_rate", "use_now", "taken", "throttled", "last_throttled_at")
    STATE = ("current_rate", "use_now", "taken", "throttled", "last_throttled_at")

    def get_list_display(self, request):
        """The state columns from wherever the state lives (lanes.buckets.overview: Redis when set)."""
        return [self._from_state(field, request) if field in self.STATE else field for field in self.list_display]

    def get_object(self, request, object_id, from_field=None):
        """The row with its state from wherever the state lives (with Redis, saving it keeps a snapshot)."""
        obj = super().get_object(request, object_id, from_field)
        if obj is None or not settings.BUCKETS_REDIS_URL:
            return obj
        return next((b for b in buckets.overview() if b.name == obj.name), obj)

    def _from_state(self, field: str, request):
        if not settings.BUCKETS_REDIS_URL:
            return field

        def show(obj):
            if not hasattr(request, "_bucket_states"):
                request._bucket_states = {b.name: b for b in buckets.overview()}
            live = request._bucket_states.get(obj.name, obj)
            return self.use_now(live) if field == "use_now" else getattr(live, field)

        show.short_description = USE_LABEL if field == "use_now" else RateBucket._meta.get_field(field).verbose_name
        show.__name__ = field
        return show

    @admin.display(description=USE_LABEL)
    def use_now(self, obj):
        return f"{obj.use_per_s:,.2f}"

    def get_readonly_fields(self, request, obj=None):
        # the name is the key: a changed name would be a second bucket beside the first, not a rename
        return (*self.readonly_fields, "name") if obj else self.readonly_fields

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm(CONTROL)

    def has_add_permission(self, request):
        return request.user.has_perm(CONTROL)

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm(CONTROL)

    def save_model(self, request, obj, form, change):
        if "rate_per_s" in form.changed_data or not change:
            obj.current_rate = obj.rate_per_s  # a new set rate starts at full speed; 429s lower it again
        if not change:
            obj.tokens = obj.burst
        super().save_model(request, obj, form, change)
        lane_controls.bucket_change_record(
            name=obj.name,
            before={f: form.initial.get(f) for f in lane_controls.BUCKET_SETTINGS} if change else None,
            after={f: getattr(obj, f) for f in lane_controls.BUCKET_SETTINGS},
            actor=request.user,
        )

    def delete_model(self, request, obj):
        was = self._settings_of([obj])
        super().delete_model(request, obj)
        self._record_deleted(request, was)

    def delete_queryset(self, request, queryset):
        was = self._settings_of(queryset)
        super().delete_queryset(request, queryset)
        self._record_deleted(request, was)

    def _settings_of(self, objs) -> dict[str, dict]:
        # read before the delete: it sets the key, the name, to None
        return {obj.name: {f: getattr(obj, f) for f in lane_controls.BUCKET_SETTINGS} for obj in objs}

    def _record_deleted(self, request, was: dict[str, dict]):
        for name, before in was.items():
            lane_controls.bucket_change_record(name=name, before=before, after=None, actor=request.user)


@admin.register(Circuit)
class CircuitAdmin(admin.ModelAdmin):
    """Providers' circuit breakers (lanes.circuits): read-only, the workers open and close them."""

    list_display = ("name", "state", "failures", "opened_at", "probe_at", "detail")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
