from anymail import urls as anymail_urls
from django.urls import URLPattern, include, path

from messaging import inbound, views, webhooks

# anymail's webhook views, each behind the same size and rate limits as ours.
anymail_patterns = [
    URLPattern(p.pattern, webhooks.esp_webhook(p.callback), p.default_args, p.name) for p in anymail_urls.urlpatterns
]

app_name = "messaging"

urlpatterns = [
    path("", views.message_list, name="list"),
    path("new/", views.message_compose, name="compose"),
    path("<int:pk>/", views.message_detail, name="detail"),
    path("<int:pk>/cancel/", views.message_cancel, name="cancel"),
    path("<int:pk>/retry/", views.message_retry, name="retry"),
    path("<int:pk>/release/", views.message_release, name="release"),
    path("webhooks/sim/", webhooks.sim_report, name="webhook-sim"),
    path("webhooks/twilio/", webhooks.twilio_report, name="webhook-twilio"),
    path("webhooks/sim/inbound/", inbound.sim_inbound, name="webhook-sim-inbound"),
    path("webhooks/twilio/inbound/", inbound.twilio_inbound, name="webhook-twilio-inbound"),
    path("webhooks/anymail/", include((anymail_patterns, "anymail"))),
]
