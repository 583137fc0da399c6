"""The settings as `make run` has them, with one URL more (bench.reports_urls: a bare 204 view), for
the gunicorn of `make bench SCENARIO=reports` only."""

from kalix_site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.reports_urls"
