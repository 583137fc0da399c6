from django.urls import path

from billing import views

urlpatterns = [
    path("", views.pool, name="billing-pool"),
    path("invoices/", views.invoice_list, name="billing-invoice-list"),
    path("invoices/new/", views.invoice_create, name="billing-invoice-create"),
    path("invoices/<int:pk>/", views.invoice_detail, name="billing-invoice-detail"),
    path("invoices/<int:pk>/edit/", views.invoice_edit, name="billing-invoice-edit"),
    path("invoices/<int:pk>/status/", views.invoice_status, name="billing-invoice-status"),
    path(
        "invoices/<int:pk>/accept-duplicate/", views.invoice_accept_duplicate, name="billing-invoice-accept-duplicate"
    ),
    path("remittances/", views.remittance_list, name="billing-remittance-list"),
    path("remittances/import/", views.remittance_import, name="billing-remittance-import"),
    path("remittances/<int:pk>/", views.remittance_detail, name="billing-remittance-detail"),
    path("remittances/claims/<int:pk>/resolve/", views.remittance_resolve, name="billing-remittance-resolve"),
    path("batches/", views.batch_list, name="billing-batch-list"),
    path("batches/new/", views.batch_create, name="billing-batch-create"),
    path("batches/<int:pk>/", views.batch_detail, name="billing-batch-detail"),
    path("batches/<int:pk>/summary/", views.batch_summary, name="billing-batch-summary"),
    path("batches/<int:pk>/export.csv", views.batch_csv, name="billing-batch-csv"),
    path("batches/<int:pk>/export.837", views.batch_x12, name="billing-batch-x12"),
    path("batches/<int:pk>/payment/", views.batch_payment, name="billing-batch-payment"),
    path("batches/<int:pk>/remove/<int:invoice_pk>/", views.batch_remove, name="billing-batch-remove"),
    path("batches/<int:pk>/<slug:action>/", views.batch_action, name="billing-batch-action"),
]
