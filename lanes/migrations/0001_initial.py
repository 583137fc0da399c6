"""The queue platform's models move here from `messaging`, keeping their rows: each table is renamed
(messaging_lane -> lanes_lane, ...), and this app's state gains the models that messaging 0020 drops
from messaging's state. The content types and permissions follow in messaging 0020."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TABLES = ["lane", "laneheartbeat", "waitingpoke", "laneaction", "lanesample", "reindexjob", "reindexchunk"]
SEQUENCES = ["laneaction", "lanesample", "reindexjob", "reindexchunk"]  # the models with an id column


def rename(source: str, target: str) -> list:
    operations = [
        migrations.RunSQL(
            f"ALTER TABLE {source}_{table} RENAME TO {target}_{table}",
            f"ALTER TABLE {target}_{table} RENAME TO {source}_{table}",
        )
        for table in TABLES
    ]
    operations += [
        migrations.RunSQL(
            f"ALTER SEQUENCE IF EXISTS {source}_{table}_id_seq RENAME TO {target}_{table}_id_seq",
            f"ALTER SEQUENCE IF EXISTS {target}_{table}_id_seq RENAME TO {source}_{table}_id_seq",
        )
        for table in SEQUENCES
    ]
    return operations


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("messaging", "0015_withheld_event_kind"),
        ("clinics", "0003_ratelimit"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=rename("messaging", "lanes"),
            state_operations=[
                migrations.CreateModel(
                    name="Lane",
                    fields=[
                        ("name", models.CharField(max_length=32, primary_key=True, serialize=False)),
                        (
                            "paused",
                            models.BooleanField(
                                default=False, help_text="Workers stop claiming; in-flight work finishes."
                            ),
                        ),
                        (
                            "order",
                            models.CharField(
                                choices=[("oldest", "Oldest first"), ("newest", "Newest first")],
                                default="oldest",
                                max_length=8,
                            ),
                        ),
                        (
                            "backlog_share",
                            models.FloatField(
                                default=0.0,
                                help_text="Share of each claimed batch reserved for the backlog (0: only when the primary queue is empty).",
                            ),
                        ),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        "ordering": ["name"],
                        "permissions": [
                            ("control_lane", "Can pause, resume and reorder lanes and re-prioritise queued items")
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="LaneHeartbeat",
                    fields=[
                        ("cluster_id", models.CharField(max_length=64, primary_key=True, serialize=False)),
                        ("lane", models.CharField(db_index=True, max_length=32)),
                        ("host", models.CharField(blank=True, max_length=255)),
                        ("pid", models.IntegerField()),
                        ("workers", models.PositiveIntegerField()),
                        ("status", models.CharField(max_length=32)),
                        ("started_at", models.DateTimeField()),
                        ("seen_at", models.DateTimeField()),
                    ],
                    options={
                        "ordering": ["lane", "-seen_at"],
                    },
                ),
                migrations.CreateModel(
                    name="WaitingPoke",
                    fields=[
                        ("key", models.CharField(max_length=255, primary_key=True, serialize=False)),
                        ("lane", models.CharField(max_length=32)),
                        ("sent_at", models.DateTimeField()),
                    ],
                    options={
                        "ordering": ["lane", "sent_at"],
                    },
                ),
                migrations.CreateModel(
                    name="LaneAction",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("lane", models.CharField(db_index=True, max_length=32)),
                        ("action", models.CharField(max_length=32)),
                        ("at", models.DateTimeField(auto_now_add=True)),
                        ("rows", models.IntegerField(default=0, help_text="Rows the action changed.")),
                        ("detail", models.CharField(blank=True, max_length=255)),
                        ("undo", models.JSONField(blank=True, default=dict, help_text="What reverses this action.")),
                        (
                            "actor",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "undone_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="lanes.laneaction",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["-at", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="LaneSample",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("lane", models.CharField(max_length=32)),
                        ("at", models.DateTimeField()),
                        ("depth", models.BigIntegerField()),
                        ("oldest_age_s", models.FloatField(null=True)),
                        ("done", models.BigIntegerField(help_text="Items completed in the minute before `at`.")),
                    ],
                    options={
                        "ordering": ["lane", "at"],
                        "indexes": [models.Index(fields=["lane", "at"], name="lanesample_lane_at_idx")],
                    },
                ),
                migrations.CreateModel(
                    name="ReindexJob",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "scope",
                            models.CharField(
                                choices=[
                                    ("all", "All messages"),
                                    ("clinic", "One clinic"),
                                    ("created", "Created in a date range"),
                                ],
                                default="all",
                                max_length=8,
                            ),
                        ),
                        ("created_from", models.DateTimeField(blank=True, null=True)),
                        ("created_to", models.DateTimeField(blank=True, null=True)),
                        (
                            "state",
                            models.CharField(
                                choices=[
                                    ("queued", "Queued"),
                                    ("running", "Running"),
                                    ("paused", "Paused"),
                                    ("cancelled", "Cancelled"),
                                    ("done", "Done"),
                                    ("failed", "Failed"),
                                ],
                                default="queued",
                                max_length=10,
                            ),
                        ),
                        ("first_id", models.BigIntegerField(default=0)),
                        (
                            "last_id",
                            models.BigIntegerField(
                                default=0, help_text="Messages after this id are kept current live."
                            ),
                        ),
                        ("cursor", models.BigIntegerField(default=0, help_text="Last message id done.")),
                        ("chunk_size", models.PositiveIntegerField()),
                        (
                            "throttle",
                            models.PositiveIntegerField(default=0, help_text="Rows per second; 0 for no limit."),
                        ),
                        ("total_rows", models.BigIntegerField(default=0)),
                        ("rows_done", models.BigIntegerField(default=0)),
                        ("rows_changed", models.BigIntegerField(default=0)),
                        ("rows_per_s", models.FloatField(default=0.0, help_text="Over the last time slice.")),
                        (
                            "waiting",
                            models.CharField(
                                blank=True, help_text="Why it is not making progress right now.", max_length=255
                            ),
                        ),
                        ("error", models.TextField(blank=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("started_at", models.DateTimeField(blank=True, null=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "progress_at",
                            models.DateTimeField(blank=True, help_text="When the last chunk committed.", null=True),
                        ),
                        (
                            "clinic",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="clinics.clinic",
                            ),
                        ),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "re-index job",
                        "ordering": ["-id"],
                        "permissions": [
                            ("run_reindexjob", "Can start, pause, resume, throttle and cancel re-index jobs")
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="ReindexChunk",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("first_id", models.BigIntegerField()),
                        ("last_id", models.BigIntegerField()),
                        ("rows", models.IntegerField()),
                        ("changed", models.IntegerField()),
                        ("seconds", models.FloatField()),
                        ("at", models.DateTimeField(db_index=True)),
                        (
                            "job",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="chunks",
                                to="lanes.reindexjob",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["job", "first_id"],
                    },
                ),
            ],
        ),
    ]
