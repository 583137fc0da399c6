"""Admin pieces shared by every app."""

from django.contrib import admin


class ReadOnlyInline(admin.TabularInline):
    """A record's history or log beside it (events, state changes, batch items): shown, never edited,
    added to or deleted in admin; the services write it. Subclasses give `model` and `fields`."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
