"""Admin pieces shared by every app.

Least privilege: admin is for Kalix's own people. Operations steer queues (kinds, counts, ages, ids) and
Support runs the status page; neither reads patient data. Only a superuser sees it in admin
(`sees_patient_data`); a model admin names its patient fields (`PatientDataAdmin.patient_fields`) and
they leave its list, form, search and filters for everyone else, or the whole model is patient data
(`patient_data_only`, claims). Patient data leaves Kalix only through the clinic's own staff pages, one
clinic at a time. Proof: tests/test_admin_least_privilege.py walks every admin page and action.
"""

from django.contrib import admin


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
