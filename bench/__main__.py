"""`make bench SCENARIO=name` runs bench/<name>.py's main(); each prints a table, then one BENCH line.

Scenarios set up their own data in a dedicated database (bench_<name>) on the same server, so a
benchmark never touches the development or test data.
"""

import importlib
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kalix_site.settings")
os.environ.setdefault("DEBUG", "1")


def main() -> int:
    scenarios = sys.argv[1:] or ["live"]
    for name in scenarios:
        module = importlib.import_module(f"bench.{name}")
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
