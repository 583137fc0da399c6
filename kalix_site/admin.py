"""Admin pieces shared by every app.

Least privilege: admin is for Kalix's own people. Operations steer queues (kinds, counts, ages, ids) and
Support runs the status page; neither reads patient data. Only a superuser sees it in admin
(`sees_patient_data`); a model admin names its patient fields (`PatientDataAdmin.patient_fields`) and
they leave its list, form, search and filters for everyone else, or the whole model is patient data
(`patient_data_only`: patients, claims, appointments, SMS threads, address consents). Patient data
leaves Kalix only through the clinic's own staff pages, one clinic at a time. Proof:
tests/test_admin_least_privilege.py walks every admin page and action, as Operations, as Support and as
a staff user with every view permission.
"""

from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404


def parse_pk(model, value):
    """An id from a URL or a query string, as `model`'s primary key; Http404 when it is not one ("abc").

    Django's own change view turns a malformed id into "does not exist"; our views' lookups let the
    ValueError through (a 500), so each goes through here."""
    try:
        return model._meta.pk.to_python(value)
    except ValidationError:
        raise Http404(f"No {model._meta.verbose_name} with that id.") from None


def object_or_404(model, pk, **filters):
    """get_object_or_404 by primary key, a malformed id being a 404 like a missing one."""
    return get_object_or_404(model, pk=parse_pk(model, pk), **filters)


def sees_patient_data(user) -> bool:
    return bool(user and user.is_active and user.is_superuser)


class PatientDataAdmin(admin.ModelAdmin):
    patient_fields: tuple[str, ...] = ()
    patient_data_only = False

    def _hidden(self, request) -> set[str]:
        return set() if sees_patient_data(request.user) else set(self.patient_fields)

    def _refused(self, request) -> bool:
        return self.patient_data_only and not sees_patient_data(request.user)

    def has_view_permission(self, request, obj=None):
        return not self._refused(request) and super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not self._refused(request) and super().has_change_permission(request, obj)

    def has_module_permission(self, request):
        return not self._refused(request) and super().has_module_permission(request)

    def has_add_permission(self, request):
        return not self._refused(request) and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return not self._refused(request) and super().has_delete_permission(request, obj)

    def get_list_display(self, request):
        hidden = self._hidden(request)
        return [f for f in super().get_list_display(request) if f not in hidden]

    def get_list_filter(self, request):
        hidden = self._hidden(request)
        return [f for f in super().get_list_filter(request) if f not in hidden]

    def get_search_fields(self, request):
        # A search by a patient's name or address would tell who has messages here, even unshown.
        return [] if self._hidden(request) else super().get_search_fields(request)

    def get_search_results(self, request, queryset, search_term):
        if self._hidden(request):
            return queryset, False
        return super().get_search_results(request, queryset, search_term)

    def get_readonly_fields(self, request, obj=None):
        hidden = self._hidden(request)
        return [f for f in super().get_readonly_fields(request, obj) if f not in hidden]

    def get_exclude(self, request, obj=None):
        return [*(super().get_exclude(request, obj) or ()), *sorted(self._hidden(request))]


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


class ValidIdAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete widget looks up a bound form's value to render it again; a value that is no id
    ("abc", posted to an add or change form) raised ValueError there, a 500 after the form's own "Select a
    valid choice". Such a value is rendered as no choice: the field error stays."""

    def optgroups(self, name, value, attr=None):
        remote = self.field.remote_field
        target = remote.model._meta.get_field(getattr(remote, "field_name", None) or remote.model._meta.pk.name)

        def is_id(candidate) -> bool:
            try:
                target.to_python(candidate)
            except ValidationError:
                return False
            return True

        return super().optgroups(name, [v for v in value if v in (None, "") or is_id(v)], attr)


class ValidIdAutocomplete:
    """For a ModelAdmin or an inline with `autocomplete_fields`: each one's widget is ValidIdAutocompleteSelect."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.get_autocomplete_fields(request) and "widget" not in kwargs:
            kwargs["widget"] = ValidIdAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
