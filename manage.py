#!/usr/bin/env python
import os
import sys
from pathlib import Path


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kalix_site.settings")
    if not os.environ.get("DATABASE_URL"):
        # Settings only compute where the embedded PostgreSQL listens; a developer's commands
        # (prepare, migrate, shell, qcluster...) need it running, so start it (or attach) first.
        from kalix_site.embedded_db import start

        start(Path(__file__).resolve().parent)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
