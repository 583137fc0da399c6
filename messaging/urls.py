from anymail import urls as anymail_urls
from django.conf import settings
from django.urls import URLPattern, include, path

from messaging import appointment_views, bulk_views, inbound, template_views, thread_views, views, webhooks

# The tracking webhooks of the ESPs Kalix is configured for (KALIX_ANYMAIL_ESPS), each behind the same
# size and rate limits as ours; every other anymail URL is not routed (404). Unrouted, the others answered
# 500 to any post: several need a signing key of their own, and Kalix files no inbound email.
anymail_patterns = [
    URLPattern(p.pattern, webhooks.esp_webhook(p.callback, esp=p.name.split("_tracking")[0]), p.default_args, p.name)
    for p in anymail_urls.urlpatterns
    if p.name in {f"{esp}_tracking_webhook" for esp in settings.MESSAGING_ANYMAIL_ESPS}
]

app_name = "messaging"

urlpatterns = [
    path("", views.message_list, name="list"),
    path("new/", views.message_compose, name="compose"),
    path("<int:pk>/", views.message_detail, name="detail"),
    path("<int:pk>/cancel/", views.message_cancel, name="cancel"),
    path("<int:pk>/retry/", views.message_retry, name="retry"),
    path("templates/", template_views.template_list, name="templates"),
    path("templates/<int:pk>/", template_views.template_edit, name="template-edit"),
    path("templates/rules/", template_views.rule_create, name="rule-create"),
    path("templates/rules/<int:pk>/toggle/", template_views.rule_toggle, name="rule-toggle"),
    path("appointments/", appointment_views.day_list, name="appointments"),
    path("appointments/new/", appointment_views.appointment_book, name="appointment-book"),
    path("appointments/<int:pk>/", appointment_views.appointment_detail, name="appointment-detail"),
    path("appointments/<int:pk>/move/", appointment_views.appointment_move, name="appointment-move"),
    path("bulk/", bulk_views.bulk_list, name="bulk"),
    path("bulk/<int:pk>/", bulk_views.bulk_detail, name="bulk-detail"),
    path("bulk/<int:pk>/cancel/", bulk_views.bulk_cancel, name="bulk-cancel"),
    path("bulk/<int:pk>/run-again/", bulk_views.bulk_run_again, name="bulk-run-again"),
    path("inbox/", thread_views.inbox, name="inbox"),
    path("threads/<int:pk>/", thread_views.thread_detail, name="thread"),
    path("<int:pk>/release/", views.message_release, name="release"),
    path("webhooks/sim/", webhooks.sim_report, name="webhook-sim"),
    path("webhooks/twilio/", webhooks.twilio_report, name="webhook-twilio"),
    path("webhooks/sim/inbound/", inbound.sim_inbound, name="webhook-sim-inbound"),
    path("webhooks/twilio/inbound/", inbound.twilio_inbound, name="webhook-twilio-inbound"),
    path("webhooks/anymail/", include((anymail_patterns, "anymail"))),
]
