"""Screenshots of the main pages for the docs, taken from a running `make run` with its demo data.

    make run                      # in one terminal
    .venv/bin/python scripts/screenshots.py [BASE_URL]

Writes docs/screenshots/*.png with Debian's chromium (as the browser tests use). Demo data only: never
point this at a system holding real patients' data.
"""

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
PASSWORD = "kalix-demo"  # noqa: S105 (the public demo logins make run prints)


def main(base_url: str = "http://127.0.0.1:8000") -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        sys.exit("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])

        def session(username: str | None):
            context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 860})
            page = context.new_page()
            if username:
                page.goto("/accounts/login/")
                page.fill("#id_username", username)
                page.fill("#id_password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_load_state()
            return context, page

        def shot(page, path: str, name: str, full_page: bool = False) -> None:
            page.goto(path)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=OUT / f"{name}.png", full_page=full_page)
            print(f"{name}.png  {path}")

        context, page = session("dana.practitioner")
        shot(page, "/messages/", "messages-list")
        href = page.eval_on_selector_all(
            "a[href^='/messages/']",
            "links => links.map(a => a.getAttribute('href')).find(h => /\\/messages\\/\\d+\\/$/.test(h))",
        )
        if href:
            shot(page, href, "message-detail")
        shot(page, "/messages/new/", "message-compose")
        shot(page, "/billing/batches/", "billing-batches")
        context.close()

        context, page = session("oscar.ops")
        shot(page, "/admin/lanes/", "queue-dashboard", full_page=True)
        context.close()

        context, page = session(None)
        shot(page, "/status/", "status-page", full_page=True)
        context.close()
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:2])
