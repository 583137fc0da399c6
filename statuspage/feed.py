"""The Atom feed: one entry per incident update, newest first."""

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.utils.feedgenerator import Atom1Feed

from statuspage import selectors, states
from statuspage.text import render_markdown


def absolute(path: str) -> str:
    """Links from STATUSPAGE_URL, not the request's host: one cached feed serves every host."""
    return settings.STATUSPAGE_URL.rstrip("/") + path


class IncidentFeed(Feed):
    feed_type = Atom1Feed
    subtitle = "Incidents and maintenance, with every update"

    def link(self):
        return absolute("/status/")

    def feed_url(self):
        return absolute("/status/feed.atom")

    def title(self):
        return f"{settings.STATUSPAGE_NAME} status"

    def items(self):
        return selectors.feed_updates()

    def item_title(self, update):
        return f"{update.incident.name}: {states.INCIDENT_STATUS_LABELS[update.status]}"

    def item_description(self, update):
        return render_markdown(update.body)

    def item_link(self, update):
        return absolute(f"/status/incidents/{update.incident_id}/#update-{update.pk}")

    def item_guid(self, update):
        return f"tag:{settings.STATUSPAGE_MESSAGE_ID_DOMAIN},2026:statuspage/update/{update.pk}"

    item_guid_is_permalink = False

    def item_pubdate(self, update):
        return update.display_at

    def item_updateddate(self, update):
        return update.updated_at
