#!/usr/bin/env python3
"""Opens a Temporal Web UI page in headless Chromium and checks what it shows.

    ui_check.py URL SCREENSHOT [--expect TEXT]... [--reject TEXT]... [--height PX]

Reloads URL until every --expect text is on the page (the UI's lists come
from visibility, which is eventually consistent), fails if one never shows
or if a --reject text does, and saves a screenshot either way. Chromium is
Debian's (CHROMIUM, default /usr/bin/chromium), driven by Playwright.
"""

import argparse
import os
import sys
import time

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("screenshot")
    parser.add_argument("--expect", action="append", default=[])
    parser.add_argument("--reject", action="append", default=[])
    parser.add_argument("--within", type=float, default=60.0, help="seconds")
    parser.add_argument("--height", type=int, default=900, help="viewport height, pixels")
    args = parser.parse_args()

    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": args.height})
        deadline = time.monotonic() + args.within
        missing = args.expect
        while True:
            page.goto(args.url, wait_until="domcontentloaded")
            try:
                # The UI renders a table or an event list once its data is in.
                page.wait_for_load_state("networkidle", timeout=5_000)
            except PlaywrightTimeout:
                pass  # a running workflow's page keeps a long poll open
            text = page.inner_text("body")
            missing = [t for t in args.expect if t not in text]
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(1)
        page.screenshot(path=args.screenshot)
        browser.close()

    shown = [t for t in args.reject if t in text]
    for t in missing:
        print(f"ui-check: {t!r} is not on {args.url}", file=sys.stderr)
    for t in shown:
        print(f"ui-check: {t!r} should not be on {args.url}", file=sys.stderr)
    if missing or shown:
        print(f"ui-check: the page showed:\n{text}", file=sys.stderr)
        return 1
    print(f"ui-check: {args.url} shows all {len(args.expect)} expected; screenshot {args.screenshot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
