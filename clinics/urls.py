from django.urls import path

from clinics import views

urlpatterns = [
    path("clinic/switch/", views.switch_clinic, name="clinic-switch"),
    path("patients/", views.patient_list, name="patient-list"),
    path("patients/new/", views.patient_create, name="patient-create"),
    path("patients/search/", views.patient_search, name="patient-search"),
    path("patients/<int:pk>/", views.patient_detail, name="patient-detail"),
    path("patients/<int:pk>/edit/", views.patient_edit, name="patient-edit"),
    path("audit/", views.access_audit, name="access-audit"),
]
