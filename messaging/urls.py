from django.urls import include, path

from messaging import webhooks

app_name = "messaging"

urlpatterns = [
    path("webhooks/sim/", webhooks.sim_report, name="webhook-sim"),
    path("webhooks/twilio/", webhooks.twilio_report, name="webhook-twilio"),
    path("webhooks/anymail/", include("anymail.urls")),
]
