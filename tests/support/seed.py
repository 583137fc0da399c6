"""Synthetic messages with events, inserted set-based (INSERT ... SELECT generate_series), for the
re-index benchmarks and the tests (queue operations, re-index, inbox flood), and the statuses a bare
recompute gives them. Never used on real data, so it lives with the test support, not in messaging.

Columns we do not set take their model default, so a field added to Message later does not break this.
"""

from contextlib import contextmanager

from django.db import connection

from messaging.models import DeliveryEvent, Message
from messaging.status import recompute_status_range

# A message's third event, by id modulo 10: most are delivered, some fail or stop earlier.
THIRD_KINDS = ["delivered"] * 6 + ["opened", "sent", "bounced", "failed"]
THIRD_EVENT = "(ARRAY[" + ", ".join(f"'{k}'" for k in THIRD_KINDS) + "])"


def _insert(model, given: dict, source: str, source_params: list) -> tuple[str, list]:
    """INSERT INTO model's table the columns in `given` (SQL expressions over `source`, or (sql, params)
    pairs), every other concrete column with its default; returns (sql, params)."""
    columns, values, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.name in given:
            expr = given[field.name]
            sql, expr_params = expr if isinstance(expr, tuple) else (expr, [])
            values.append(sql)
            params += expr_params
        elif field.null:
            values.append("NULL")
        elif field.get_default() is not None:
            default = field.get_default()
            values.append("%s" if field.get_internal_type() != "JSONField" else "%s::jsonb")
            params.append(field.get_db_prep_save(default, connection))
        else:
            raise ValueError(f"seed: no value for {model.__name__}.{field.name}")
    table = model._meta.db_table
    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} {source}"  # noqa: S608
    return sql, [*params, *source_params]


@contextmanager
def indexes_deferred(*tables: str):
    """Drop the secondary indexes, unique and foreign-key constraints of `tables`, and build them again
    at the end: a bulk load into an empty table is several times faster that way. Benchmarks only."""
    with connection.cursor() as cursor:
        saved = []
        for table in tables:
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype IN ('u', 'f')",
                [table],
            )
            constraints = cursor.fetchall()
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
                "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
                [table, table],
            )
            indexes = cursor.fetchall()
            for name, _ in constraints:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for name, _ in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
            saved.append((table, constraints, indexes))
        yield
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for table, constraints, indexes in saved:
            for _, definition in indexes:
                cursor.execute(definition)
            for name, definition in constraints:
                cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            cursor.execute(f"ANALYZE {table}")


def seed_messages(*, clinic_id: int, count: int, events_per_message: int = 3, lane: str = "live") -> tuple[int, int]:
    """Insert `count` handed-off SMS messages of one clinic with 1 to 3 events each; returns (first_id, last_id)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM messaging_message")
        before = cursor.fetchone()[0]
        sql, params = _insert(
            Message,
            {
                "clinic": ("%s", [clinic_id]),
                "channel": "'sms'",
                "recipient": "'+6140' || lpad(g::text, 7, '0')",
                "body": "'Seeded message'",
                "created_at": ("now() - (%s - g) * interval '10 ms'", [count]),
                "updated_at": "now()",
                "lane": ("%s", [lane]),
                "dispatch": "'handed_off'",
                "status": "'pending'",
            },
            "FROM generate_series(1, %s) AS g",
            [count],
        )
        cursor.execute(sql, params)
        cursor.execute("SELECT min(id), max(id) FROM messaging_message WHERE id > %s", [before])
        first, last = cursor.fetchone()
        kinds = f"(ARRAY['queued','accepted'] || {THIRD_EVENT}[(m.id %% 10) + 1])"
        sql, params = _insert(
            DeliveryEvent,
            {
                "message": "m.id",
                "kind": f"{kinds}[k]",
                "occurred_at": "m.created_at + k * interval '1 second'",
                "received_at": "m.created_at + k * interval '1 second'",
                "source": "CASE WHEN k = 1 THEN 'system' WHEN k = 2 THEN 'worker' ELSE 'provider' END",
                "event_id": "'seed-' || m.id || '-' || k",
            },
            "FROM messaging_message m CROSS JOIN generate_series(1, %s) AS k WHERE m.id BETWEEN %s AND %s",
            [events_per_message, first, last],
        )
        cursor.execute(sql, params)
    return first, last


def scramble_derived(first_id: int, last_id: int) -> int:
    """Make every derived column wrong (as the incident's bug did), for a re-index to put right."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE messaging_message SET status = 'sending', status_detail = 'stale', status_at = NULL, "
            "search = NULL WHERE id BETWEEN %s AND %s",
            [first_id, last_id],
        )
        return cursor.rowcount


def derived_columns(first_id: int, last_id: int) -> dict[int, tuple]:
    """Each message's derived columns (status, detail, time, search document), by id."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, status, status_detail, status_at, search::text FROM messaging_message "
            "WHERE id BETWEEN %s AND %s ORDER BY id",
            [first_id, last_id],
        )
        return {row[0]: row[1:] for row in cursor.fetchall()}


def seeded(clinic, count):
    """(first_id, last_id, expected): `count` messages whose derived columns are then scrambled;
    `expected` is what the bare one-statement recompute makes of them."""
    first, last = seed_messages(clinic_id=clinic.pk, count=count)
    recompute_status_range(first, last)
    expected = derived_columns(first, last)
    scramble_derived(first, last)
    assert derived_columns(first, last) != expected
    return first, last, expected
