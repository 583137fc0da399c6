"""Our database backend: Django's PostgreSQL one with a cheaper health check (base.py)."""

ENGINE = "kalix_site.db"
