"""The three staff groups and the permissions each carries.

Groups are created by a data migration (clinics 0002). Apps that add models grant their permissions
with `grant()` from a data migration of their own, so a fresh database and an upgraded one agree.
"""

CLINIC_STAFF = "Clinic staff"
SUPPORT = "Support"
OPERATIONS = "Operations"
GROUPS = (CLINIC_STAFF, SUPPORT, OPERATIONS)


def grant(apps, group_name: str, perms: list[str]) -> None:
    """Give `group_name` the permissions named "app_label.codename", creating any not yet made.

    Permissions are normally created after all migrations have run; a data migration that grants
    them must create them first.
    """
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, apps=apps)

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=group_name)
    for perm in perms:
        app_label, codename = perm.split(".", 1)
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
