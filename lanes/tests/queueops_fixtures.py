"""Queue-operations test helpers (imported by the tests that use them): seeded messages, and the
statuses a bare recompute gives."""

from django.db import connection

from messaging.seed import scramble_derived, seed_messages
from messaging.status import recompute_status_range


def derived_columns(first_id: int, last_id: int) -> dict[int, tuple]:
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


def ensure_queueops_roles():
    """Re-apply the queue-ops data migration (groups' permissions, lane rows, schedules): transactional
    tests flush the tables, and with them what migrations wrote."""
    import importlib

    from django.apps import apps

    importlib.import_module("messaging.migrations.0007_queueops_setup").forwards(apps, None)
    importlib.import_module("lanes.migrations.0002_lane_rows_and_grants").forwards(apps, None)
