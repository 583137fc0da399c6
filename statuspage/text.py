"""Markdown to safe HTML, and the durations the public reads."""

import html
import re
from datetime import timedelta

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = {"p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "a", "blockquote", "h3", "h4", "hr"}


def render_markdown(text: str) -> SafeString:
    """Markdown rendered, then sanitised: raw HTML, scripts, handlers and javascript: links are dropped."""
    html = markdown.markdown(text or "", extensions=["sane_lists"], output_format="html")
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener",
    )
    return mark_safe(clean)  # noqa: S308 - sanitised by nh3 just above


def _link_text(match) -> str:
    href, text = match[1], match[2]
    return text if href == text else f"{text} ({href})"


def markdown_text(text: str) -> str:
    """Markdown as a reader of a plain-text email should see it: emphasis marks gone, lists as dashes."""
    rendered = str(render_markdown(text))
    rendered = re.sub(r"<li>", "- ", rendered)
    rendered = re.sub(r"</(p|li|h3|h4|blockquote|pre)>|<br ?/?>", "\n", rendered)
    rendered = re.sub(
        r'<a href="([^"]*)"[^>]*>(.*?)</a>', lambda m: f"{m[2]} ({m[1]})" if m[1] != m[2] else m[2], rendered
    )
    plain = html.unescape(re.sub(r"<[^>]+>", "", rendered))
    return re.sub(r"\n{3,}", "\n\n", plain).strip()


def format_percent(value: float | None) -> str:
    """Uptime as shown everywhere (page, bar tooltips): two decimals, never "100%" with any downtime."""
    if value is None:
        return ""
    return f"{value:.2f}%"


def format_duration(duration: timedelta) -> str:
    """Days and hours from one day up ("7d 4h"); hours and minutes below ("23h 59m")."""
    minutes = max(int(duration.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes}m"
