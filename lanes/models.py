"""Queue operations: lane state, heartbeats, waiting pokes, the audit log of operator actions, re-index
jobs and lane samples. Models of the `lanes` app (until 0001 they were tables of `messaging`).
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models


class LaneHeartbeat(models.Model):
    """The last sign of life of one django-q2 cluster, and the lane it serves."""

    cluster_id = models.CharField(max_length=64, primary_key=True)
    lane = models.CharField(max_length=32, db_index=True)
    host = models.CharField(max_length=255, blank=True)
    pid = models.IntegerField()
    workers = models.PositiveIntegerField()
    status = models.CharField(max_length=32)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["lane", "-seen_at"]

    def __str__(self):
        return f"{self.lane} cluster {self.cluster_id} ({self.workers} workers)"


class LaneOrder(models.TextChoices):
    OLDEST = "oldest", "Oldest first"
    NEWEST = "newest", "Newest first"


class Lane(models.Model):
    """What operators set for one lane; workers read it in the claim statement (lanes.pokes)."""

    name = models.CharField(max_length=32, primary_key=True)
    paused = models.BooleanField(default=False, help_text="Workers stop claiming; in-flight work finishes.")
    order = models.CharField(max_length=8, choices=LaneOrder.choices, default=LaneOrder.OLDEST)
    backlog_share = models.FloatField(
        default=0.0,
        help_text="Share of each claimed batch reserved for the backlog (0: only when the primary queue is empty).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [
            ("control_lane", "Can pause, resume and reorder lanes and re-prioritise queued items"),
        ]

    def __str__(self):
        return f"{self.name} lane"


class WaitingPoke(models.Model):
    """A poke sent to a lane's broker that no worker has started yet (lanes.pokes.poke).

    While it waits, the same poke from any other transaction is not sent again: a thousand commits in
    a second leave one drain task in the broker, not a thousand ahead of a billing build. The task
    deletes its row as it starts, so work committed after that start pokes again.
    """

    key = models.CharField(max_length=255, primary_key=True)
    lane = models.CharField(max_length=32)
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["lane", "sent_at"]

    def __str__(self):
        return f"{self.key} waiting since {self.sent_at:%H:%M:%S}"


class LaneAction(models.Model):
    """One operator action on a lane or its items, or on a rate bucket: who, when, what, how many rows. Never edited."""

    lane = models.CharField(max_length=32, db_index=True, blank=True, help_text="Empty for a rate bucket's change.")
    action = models.CharField(max_length=32)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True)
    rows = models.IntegerField(default=0, help_text="Rows the action changed.")
    detail = models.CharField(max_length=255, blank=True)
    reason = models.CharField(max_length=255, blank=True, help_text="Why, in the operator's words.")
    undo = models.JSONField(default=dict, blank=True, help_text="What reverses this action.")
    undone_by = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.action} on {self.lane} ({self.rows} rows)"


class ReindexScope(models.TextChoices):
    ALL = "all", "All messages"
    CLINIC = "clinic", "One clinic"
    CREATED = "created", "Created in a date range"


class ReindexState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    CANCELLED = "cancelled", "Cancelled"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ReindexJob(models.Model):
    """Recompute every message's derived state in primary-key chunks on the bulk lane (lanes.reindex).

    The cursor is the last message id done; it is written in the same transaction as each chunk.
    """

    scope = models.CharField(max_length=8, choices=ReindexScope.choices, default=ReindexScope.ALL)
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_from = models.DateTimeField(null=True, blank=True)
    created_to = models.DateTimeField(null=True, blank=True)

    state = models.CharField(max_length=10, choices=ReindexState.choices, default=ReindexState.QUEUED)
    first_id = models.BigIntegerField(default=0)
    last_id = models.BigIntegerField(default=0, help_text="Messages after this id are kept current live.")
    cursor = models.BigIntegerField(default=0, help_text="Last message id done.")
    chunk_size = models.PositiveIntegerField()
    throttle = models.PositiveIntegerField(default=0, help_text="Rows per second; 0 for no limit.")

    total_rows = models.BigIntegerField(default=0)
    rows_done = models.BigIntegerField(default=0)
    rows_changed = models.BigIntegerField(default=0)
    rows_per_s = models.FloatField(
        default=0.0, help_text="Rows done since it started, resumed or was re-throttled, over the time since."
    )
    rate_since = models.DateTimeField(null=True, blank=True, help_text="When rows_per_s started counting.")
    rate_since_rows = models.BigIntegerField(default=0, help_text="Rows done by then.")
    waiting = models.CharField(max_length=255, blank=True, help_text="Why it is not making progress right now.")
    error = models.TextField(blank=True)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True, help_text="When the last chunk committed.")

    class Meta:
        ordering = ["-id"]
        verbose_name = "re-index job"
        permissions = [("run_reindexjob", "Can start, pause, resume, throttle and cancel re-index jobs")]

    def __str__(self):
        return f"Re-index #{self.pk} ({self.get_scope_display().lower()}, {self.state})"

    @property
    def percent(self) -> float:
        if self.state == ReindexState.DONE:
            return 100.0
        if self.total_rows == 0:
            return 0.0
        span = self.last_id - self.first_id + 1
        if span <= 0 or self.cursor < self.first_id:
            return 0.0
        return min(100.0, 100.0 * (self.cursor - self.first_id + 1) / span)

    @property
    def eta_s(self) -> float | None:
        if self.state not in (ReindexState.RUNNING, ReindexState.QUEUED) or self.rows_per_s <= 0:
            return None
        return max(self.total_rows - self.rows_done, 0) / self.rows_per_s


class ReindexChunk(models.Model):
    """One committed chunk of a re-index: its checkpoint record, and what the bulk lane's throughput is made of."""

    job = models.ForeignKey(ReindexJob, on_delete=models.CASCADE, related_name="chunks")
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    rows = models.IntegerField()
    changed = models.IntegerField()
    seconds = models.FloatField()
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["job", "first_id"]

    def __str__(self):
        return f"chunk {self.first_id}-{self.last_id} of job {self.job_id}"


class LaneSample(models.Model):
    """Per lane, once a minute: what the dashboard's sparklines are drawn from."""

    lane = models.CharField(max_length=32)
    at = models.DateTimeField()
    depth = models.BigIntegerField()
    oldest_age_s = models.FloatField(null=True)
    done = models.BigIntegerField(help_text="Items completed in the minute before `at`.")

    class Meta:
        ordering = ["lane", "at"]
        indexes = [models.Index(fields=["lane", "at"], name="lanesample_lane_at_idx")]

    def __str__(self):
        return f"{self.lane} at {self.at:%H:%M}"


# From one request in 100 s to beyond any provider account's limit: a rate outside is a typo.
RATE_MIN, RATE_MAX, BURST_MAX = 0.01, 10_000, 10_000


class RateBucket(models.Model):
    """A token bucket shared by every worker on every machine: what a provider account (or sender)
    allows, in requests a second (lanes.buckets). An operator sets `rate_per_s` and `burst` in admin;
    `current_rate` is what the bucket gives now, lowered on each 429 and raised again as requests
    succeed (lanes.buckets: additive increase, multiplicative decrease)."""

    name = models.CharField(
        max_length=120,
        primary_key=True,
        # in capitals, not <provider>: admin does not escape help text, so a browser took those for tags
        help_text="An account: PROVIDER:ACCOUNT (e.g. sim:default, twilio:AC...); one of its senders: "
        "PROVIDER:ACCOUNT:FROM (e.g. twilio:AC...:+15005550006). A request takes from both.",
        validators=[
            RegexValidator(
                r"^[a-z][a-z0-9_-]*:[^:\s]+(:\S(.*\S)?)?$",  # a sender name may have spaces inside ("Alpha Diet")
                "PROVIDER:ACCOUNT or PROVIDER:ACCOUNT:FROM, no spaces but inside a sender name.",
            )
        ],
    )
    rate_per_s = models.FloatField(
        help_text="Requests a second the provider allows this account (or sender).",
        validators=[MinValueValidator(RATE_MIN), MaxValueValidator(RATE_MAX)],
    )
    burst = models.PositiveIntegerField(
        default=10,
        help_text="Requests that may go at once after a quiet spell.",
        validators=[MinValueValidator(1), MaxValueValidator(BURST_MAX)],  # 0: nothing would ever go
    )
    current_rate = models.FloatField(default=0.0, help_text="The rate given now (lowered after a 429).")
    tokens = models.FloatField(default=0.0)
    refilled_at = models.DateTimeField(auto_now_add=True)
    taken = models.BigIntegerField(default=0, help_text="Requests let through since the bucket was made.")
    throttled = models.BigIntegerField(default=0, help_text="429s answered since the bucket was made.")
    last_throttled_at = models.DateTimeField(null=True, blank=True)
    # Current use, for the dashboard: requests let through in the window, and the last full window's rate.
    window_started_at = models.DateTimeField(auto_now_add=True)
    window_taken = models.BigIntegerField(default=0)
    use_per_s = models.FloatField(default=0.0, help_text="Requests a second over the last few seconds.")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.rate_per_s:g}/s)"

    @property
    def sender(self) -> str:
        """The sender this bucket limits ('' for an account's bucket)."""
        return self.name.split(":", 2)[2] if self.name.count(":") >= 2 else ""


class CircuitState(models.TextChoices):
    CLOSED = "closed", "Closed (sending)"
    OPEN = "open", "Open (not sending; waiting for a probe)"


class Circuit(models.Model):
    """A provider's circuit breaker (lanes.circuits): open, no message is claimed for it until a probe
    answers; other providers and channels go on."""

    name = models.CharField(max_length=64, primary_key=True, help_text="The provider, e.g. sim or twilio.")
    state = models.CharField(max_length=8, choices=CircuitState.choices, default=CircuitState.CLOSED)
    failures = models.PositiveIntegerField(default=0, help_text="Failed hand-offs in a row.")
    opened_at = models.DateTimeField(null=True, blank=True)
    probe_at = models.DateTimeField(null=True, blank=True, help_text="When the next probe may go.")
    detail = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} circuit ({self.state})"
