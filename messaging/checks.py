"""Production refuses to start without the webhook secret of every provider it uses.

A Django system check error, registered in MessagingConfig.ready: with DEBUG off, `manage.py check`
(and `check --deploy`), `migrate` (so `prepare`), `qcluster` (the lanes' workers) and kalix_site/wsgi.py
(the web server) stop with a message naming the missing environment variable. An unset secret would leave
a webhook that refuses every report (statuses stuck at Sending, silently), or, for anymail, one that
accepts anybody's; neither should ever run. With DEBUG on, settings fill unset secrets from this
install's random development ones (kalix_site/dev_secrets.py), so the check passes without setup.
"""

from anymail.utils import get_anymail_setting
from django.conf import settings
from django.core import checks

TAG = "kalix_webhook_secrets"

SIMULATED = {"sim", "simulated"}
KNOWN_PROVIDERS = SIMULATED | {"twilio"}


def anymail_webhook_secrets() -> list[str]:
    """The basic-auth 'user:password' strings anymail's tracking webhooks accept (empty ones dropped)."""
    value = get_anymail_setting("webhook_secret", default=None)
    values = [value] if isinstance(value, str) else list(value or [])
    return [v for v in values if v]


def email_reports_by_webhook() -> bool:
    return settings.MESSAGING_EMAIL_TRACKING or settings.EMAIL_BACKEND.startswith("anymail.")


def webhook_secrets(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    if settings.DEBUG:
        return []
    errors = []
    providers = {
        "KALIX_SMS_PROVIDER": settings.MESSAGING_SMS_PROVIDER,
        "KALIX_FAX_PROVIDER": settings.MESSAGING_FAX_PROVIDER,
    }
    for variable, name in providers.items():
        if name not in KNOWN_PROVIDERS:
            errors.append(
                checks.Error(
                    f"{variable}={name!r} is not a provider Kalix knows.",
                    hint=f"Use one of: {', '.join(sorted(KNOWN_PROVIDERS))}.",
                    id="messaging.E010",
                )
            )
    used = set(providers.values())
    if used & SIMULATED and not settings.SIMCARRIER_SECRET:
        errors.append(
            checks.Error(
                "KALIX_SIMCARRIER_SECRET is not set, and the simulated carrier sends SMS or fax: its delivery "
                "reports (and our requests to it) could not be verified.",
                hint="Set KALIX_SIMCARRIER_SECRET to a long random string shared with the carrier process.",
                id="messaging.E011",
            )
        )
    if "twilio" in used and not settings.TWILIO_AUTH_TOKEN:
        errors.append(
            checks.Error(
                "TWILIO_AUTH_TOKEN is not set, and Twilio sends SMS: its status callbacks could not be verified.",
                hint="Set TWILIO_AUTH_TOKEN to the auth token of the Twilio account in TWILIO_ACCOUNT_SID.",
                id="messaging.E012",
            )
        )
    if email_reports_by_webhook() and not anymail_webhook_secrets():
        errors.append(
            checks.Error(
                "ANYMAIL_WEBHOOK_SECRET is not set, and an ESP reports email events (KALIX_EMAIL_TRACKING or an "
                "anymail EMAIL_BACKEND): its posts to anymail's tracking webhooks could not be authenticated.",
                hint="Set ANYMAIL_WEBHOOK_SECRET to 'user:password' and give the ESP the webhook URL with them.",
                id="messaging.E013",
            )
        )
    errors.extend(unknown_esps())
    return errors


def unknown_esps() -> list[checks.CheckMessage]:
    from anymail import urls as anymail_urls

    known = {
        p.name.removesuffix("_tracking_webhook")
        for p in anymail_urls.urlpatterns
        if p.name.endswith("_tracking_webhook")
    }
    return [
        checks.Error(
            f"KALIX_ANYMAIL_ESPS names {esp!r}, which has no anymail tracking webhook.",
            hint=f"Use some of: {', '.join(sorted(known))}.",
            id="messaging.E014",
        )
        for esp in settings.MESSAGING_ANYMAIL_ESPS
        if esp not in known
    ]


def register() -> None:
    checks.register(webhook_secrets, TAG, checks.Tags.security)


def refuse_to_serve_without_secrets() -> None:
    """For the web server, which runs no system checks of its own: the same errors stop it loading."""
    from django.core.exceptions import ImproperlyConfigured

    errors = [e for e in checks.run_checks(tags=[TAG]) if e.is_serious()]
    if errors:
        raise ImproperlyConfigured("\n".join(f"{e.msg} {e.hint}" for e in errors))
