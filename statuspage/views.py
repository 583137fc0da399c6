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


def _page(request, key: str, template: str, build_context) -> HttpResponse:
    def build():
        context = build_context()
        return None if context is None else render_to_string(template, context).encode()

    body = cache.get_or_build(key, build)
    if body is None:
        raise Http404("No such page.")
    return cache.response(body, "html", request)


def home(request):
    return _page(request, "page:home", "statuspage/home.html", selectors.home)


def incident(request, pk: int):
    def context():
        found = selectors.incident_detail(pk)
        return {"incident": found} if found else None

    return _page(request, f"page:incident:{pk}", "statuspage/incident.html", context)


def _component_filter(request) -> Component | None:
    """?component=<id> narrows the history to one component; an unknown one is a 404, never a 500."""
    raw = request.GET.get("component", "")
    if not raw:
        return None
    component = Component.objects.filter(pk=int(raw)).first() if raw.isdigit() and len(raw) < 10 else None
    if component is None:
        raise Http404("No such component.")
    return component


def _history_context(component, **extra):
    return {
        "archive": selectors.history_archive(),
        "components": Component.objects.order_by("position", "id"),
        "component": component,
        **extra,
    }


def history(request):
    component = _component_filter(request)
    key = f"page:history:c{component.pk}" if component else "page:history"
    return _page(
        request,
        key,
        "statuspage/history.html",
        lambda: _history_context(component, months=selectors.history(component=component)),
    )


def history_month(request, year: int, month: int):
    if not (1 <= month <= 12 and 1970 <= year <= 9999):
        raise Http404("No such month.")
    component = _component_filter(request)
    key = f"page:history:{year}-{month}:c{component.pk if component else ''}"
    return _page(
        request,
        key,
        "statuspage/history_month.html",
        lambda: _history_context(component, **selectors.history_month(year=year, month=month, component=component)),
    )


def feed(request):
    body = cache.get_or_build("page:feed", lambda: IncidentFeed()(request).content)
    return cache.response(body, "atom", request)


class SubscribeForm(forms.Form):
    email = forms.EmailField(required=False, label="Email address", max_length=254)  # the model's length
    webhook_url = forms.URLField(required=False, label="Webhook URL", assume_scheme="https")
    components = forms.ModelMultipleChoiceField(
        queryset=Component.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave empty to hear about every component.",
    )

    def clean(self):
        data = super().clean()
        if "email" in self.errors or "webhook_url" in self.errors:
            return data  # a mistyped address says so itself; "give one of them" beside it misleads
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
            # What was typed, whether it starts a subscription or waits as a change: the answer is the same.
            scope = selectors.subscription_scope(subscriber, pending=subscriber.pending_components)
            return render(request, "statuspage/subscribed.html", {"subscriber": subscriber, "scope": scope})
    return render(request, "statuspage/subscribe.html", {"form": form})


INVALID_CONFIRMATION = {
    "title": "This confirmation link is not valid",
    "text": "It is unknown, or its subscription was cancelled. Subscribe again to get status notices.",
    "again": True,
}


@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request, token: str):
    """GET: a page with a Confirm button; POST (CSRF-protected, from that button): confirms. Mail scanners
    and prefetchers follow every link in a message, so opening the link must not start a subscription
    or apply a change of components that someone else may have typed in for this address."""
    changed = False
    if request.method == "POST":
        try:
            subscriber = services.subscriber_confirm(token=token, choice=request.POST.get("choice", ""))
        except services.ConfirmationChanged:
            changed = True  # the page again, showing what a press applies now
        else:
            if subscriber is None:
                return render(request, "statuspage/message.html", INVALID_CONFIRMATION, status=404)
            scope = selectors.subscription_scope(subscriber)
            return render(
                request,
                "statuspage/message.html",
                {"title": "Subscription confirmed", "text": f"You will get {scope}."},
            )
    subscriber = selectors.subscriber_by_token(token)
    if subscriber is None or subscriber.unsubscribed_at:
        return render(request, "statuspage/message.html", INVALID_CONFIRMATION, status=404)
    pending = subscriber.pending_components
    context = {
        "subscriber": subscriber,
        "token": token,
        "choice": selectors.confirmation_choice(subscriber),
        "changed": changed,
        "changing": bool(subscriber.confirmed_at and pending is not None),
        "done": bool(subscriber.confirmed_at and pending is None),
        "scope": selectors.subscription_scope(subscriber, pending=pending),
    }
    return render(request, "statuspage/confirm.html", context, status=409 if changed else 200)


@csrf_exempt  # a mail client's one-click POST carries no CSRF token; the token in the URL is the secret
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """GET: a page asking to confirm (mail scanners follow links; they must not unsubscribe anyone).
    POST: unsubscribes, from that page's button or a mail client's RFC 8058 one-click POST."""
    if request.method == "GET":
        subscriber = selectors.subscriber_by_token(token)
        if subscriber is None:
            raise Http404("Unknown subscription.")
        return render(request, "statuspage/unsubscribe.html", {"subscriber": subscriber, "token": token})
    subscriber = services.subscriber_unsubscribe(token=token)
    if subscriber is None:
        raise Http404("Unknown subscription.")
    return render(
        request, "statuspage/message.html", {"title": "Unsubscribed", "text": "You will get no more status notices."}
    )
