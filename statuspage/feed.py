"""The Atom feed: one entry per incident update, newest first. Its links are built on PUBLIC_URL, not the
request's host (kalix_site.links): one cached feed serves every host."""

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.utils.feedgenerator import Atom1Feed

from kalix_site.links import absolute_url
from statuspage import selectors, states
from statuspage.text import render_markdown


class IncidentFeed(Feed):
    feed_type = Atom1Feed
    subtitle = "Incidents and maintenance, with every update"

    def link(self):
        return absolute_url("statuspage:home")

    def feed_url(self):
        return absolute_url("statuspage:feed")

    def title(self):
        return f"{settings.STATUSPAGE_NAME} status"

    def items(self):
        return selectors.feed_updates()

    def item_title(self, update):
        return f"{update.incident.name}: {states.INCIDENT_STATUS_LABELS[update.status]}"

    def item_description(self, update):
        return render_markdown(update.body)

    def item_link(self, update):
        return absolute_url("statuspage:incident", update.incident_id) + f"#update-{update.pk}"

    def item_guid(self, update):
        return f"tag:{settings.STATUSPAGE_MESSAGE_ID_DOMAIN},2026:statuspage/update/{update.pk}"

    item_guid_is_permalink = False

    def item_pubdate(self, update):
        return update.display_at

    def item_updateddate(self, update):
        return update.display_at  # the update's own time: a backfilled update is not "updated" today

    def author_name(self):
        return settings.STATUSPAGE_NAME  # RFC 4287: a feed without per-entry authors needs a feed author

    def author_link(self):
        return absolute_url("statuspage:home")

    def item_author_name(self, update):
        return settings.STATUSPAGE_NAME
