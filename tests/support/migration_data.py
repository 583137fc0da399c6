"""Bring back what migrations wrote, after a transactional test flushed it.

A transactional test ends by flushing every table, and with them the rows data migrations wrote (staff
groups and their permissions, lane rows) and the schedules. Each migration function is idempotent
(get_or_create / update_or_create / grant), so running it again restores exactly that data.
"""


def restore_migration_data() -> int:
    """Run the forward function of every data migration of our apps again, and upsert the registered
    schedules as every migrate does; returns how many migration functions ran."""
    from django.apps import apps
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.operations import RunPython

    from lanes.schedules import upsert_schedules

    ours = {"lanes", "clinics", "messaging", "billing", "statuspage"}
    loader = MigrationLoader(None, ignore_no_migrations=True)
    plan = []  # every migration once, each after its dependencies
    for leaf in loader.graph.leaf_nodes():
        plan += [node for node in loader.graph.forwards_plan(leaf) if node not in plan]
    ran = 0
    for app_label, name in plan:
        if app_label in ours:
            for operation in loader.disk_migrations[app_label, name].operations:
                if isinstance(operation, RunPython):
                    operation.code(apps, None)
                    ran += 1
    upsert_schedules()
    return ran


def ensure_queueops_roles() -> None:
    """Re-apply only the queue-ops data migrations (groups' permissions, lane rows, schedules)."""
    import importlib

    from django.apps import apps

    importlib.import_module("messaging.migrations.0007_queueops_setup").forwards(apps, None)
    importlib.import_module("lanes.migrations.0002_lane_rows_and_grants").forwards(apps, None)
