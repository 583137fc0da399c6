from datetime import UTC

from django import template
from django.conf import settings
from django.utils.html import format_html

from statuspage import selectors, states
from statuspage.text import markdown_text, render_markdown

register = template.Library()


@register.simple_tag
def page_name():
    """STATUSPAGE_NAME; a context variable missing on most pages made Django log the whole context."""
    return settings.STATUSPAGE_NAME


@register.filter
def page_time(value):
    """A time in the page's time zone, with UTC on hover."""
    if not value:
        return ""
    local = value.astimezone(selectors.page_zone())
    utc = value.astimezone(UTC)
    return format_html(
        '<time datetime="{}" title="{} UTC">{}</time>',
        utc.isoformat(),
        utc.strftime("%d %b %Y %H:%M"),
        local.strftime("%d %b %Y %H:%M %Z"),
    )


@register.filter
def page_time_text(value):
    """A time in the page's time zone as plain text (emails)."""
    if not value:
        return ""
    return value.astimezone(selectors.page_zone()).strftime("%d %b %Y %H:%M %Z")


@register.filter
def markdown(value):
    return render_markdown(value)


@register.filter
def form_field(form, name):
    """form[name] in a template (the status forms list their component fields by group)."""
    return form[name]


@register.filter
def markdown_plain(value):
    return markdown_text(value)


@register.filter
def component_status_label(value):
    return states.COMPONENT_STATUS_LABELS.get(value, value)


@register.filter
def incident_status_label(value):
    return states.INCIDENT_STATUS_LABELS.get(value, value)


@register.inclusion_tag("statuspage/banner.html", takes_context=True)
def status_banner(context):
    """Staff pages: a banner while a component that owns this page has an active incident."""
    request = context.get("request")
    if request is None or not getattr(request, "user", None) or not request.user.is_authenticated:
        return {"incidents": []}
    return {"incidents": selectors.active_incidents_for_path(request.path)}
