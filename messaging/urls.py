from django.urls import include, path

from messaging import views, webhooks

app_name = "messaging"

urlpatterns = [
    path("", views.message_list, name="list"),
    path("new/", views.message_compose, name="compose"),
    path("<int:pk>/", views.message_detail, name="detail"),
    path("<int:pk>/cancel/", views.message_cancel, name="cancel"),
    path("<int:pk>/retry/", views.message_retry, name="retry"),
    path("webhooks/sim/", webhooks.sim_report, name="webhook-sim"),
    path("webhooks/twilio/", webhooks.twilio_report, name="webhook-twilio"),
    path("webhooks/anymail/", include("anymail.urls")),
]
