"""Public status pages (no login). Bodies are cached per page generation, see statuspage/cache.py."""

from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from clinics.ratelimit import ratelimit
from kalix_site import errors
from statuspage import cache, selectors, services
from statuspage.feed import IncidentFeed
from statuspage.models import Component


def _page(key: str, template: str, build_context) -> HttpResponse:
    def build():
        context = build_context()
        return None if context is None else render_to_string(template, context).encode()

    body = cache.get_or_build(key, build)
    if body is None:
        raise Http404("No such incident.")
    return cache.response(body, "html")


def home(request):
    return _page("page:home", "statuspage/home.html", selectors.home)


def incident(request, pk: int):
    def context():
        found = selectors.incident_detail(pk)
        return {"incident": found} if found else None

    return _page(f"page:incident:{pk}", "statuspage/incident.html", context)


def history(request):
    return _page("page:history", "statuspage/history.html", lambda: {"months": selectors.history()})


def feed(request):
    body = cache.get_or_build("page:feed", lambda: IncidentFeed()(request).content)
    return cache.response(body, "atom")


class SubscribeForm(forms.Form):
    email = forms.EmailField(required=False, label="Email address")
    webhook_url = forms.URLField(required=False, label="Webhook URL", assume_scheme="https")
    components = forms.ModelMultipleChoiceField(
        queryset=Component.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave empty to hear about every component.",
    )

    def clean(self):
        data = super().clean()
        if bool(data.get("email")) == bool(data.get("webhook_url")):
            raise forms.ValidationError("Give an email address or a webhook URL (one of them).")
        return data


@require_http_methods(["GET", "POST"])
@ratelimit(scope="subscribe", rate_setting="STATUSPAGE_SUBSCRIBE_RATE_PER_MIN")
def subscribe(request):
    form = SubscribeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            subscriber = services.subscriber_add(
                email=form.cleaned_data["email"] or "",
                webhook_url=form.cleaned_data["webhook_url"] or "",
                components=form.cleaned_data["components"],
            )
        except ValidationError as error:
            errors.add_form_errors(form, error)
        else:
            return render(request, "statuspage/subscribed.html", {"subscriber": subscriber})
    return render(request, "statuspage/subscribe.html", {"form": form})


def confirm(request, token: str):
    subscriber = services.subscriber_confirm(token=token)
    if subscriber is None:
        raise Http404("Unknown or cancelled subscription.")
    return render(
        request,
        "statuspage/message.html",
        {"title": "Subscription confirmed", "text": "You will hear about every update."},
    )


@csrf_exempt  # a mail client's one-click POST carries no CSRF token; the token in the URL is the secret
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """One click from any notice (GET), and RFC 8058 one-click POST from mail clients."""
    subscriber = services.subscriber_unsubscribe(token=token)
    if subscriber is None:
        raise Http404("Unknown subscription.")
    return render(
        request, "statuspage/message.html", {"title": "Unsubscribed", "text": "You will get no more status notices."}
    )
