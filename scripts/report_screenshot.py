"""Screenshot of an avatar run's report.html in Debian's headless chromium, through Playwright's Python API (never
`playwright install`): the picture in the README (docs/images/report.png).

    apt-get install -y chromium                      # once, as root
    .venv/bin/pip install -e ".[e2e]"                # Playwright's Python package
    python scripts/report_screenshot.py outputs/demo/report.html docs/images/report.png [--width 1180] [--full]

The page is opened from the file, so nothing is fetched: the report is self-contained (its images and videos are
data URIs); the browser's network features are off all the same.
"""

from __future__ import annotations

import argparse
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]  # fmt: skip


PLAY_VIDEOS = """async () => Promise.all([...document.querySelectorAll('video')].map(async (v) => {
  v.muted = true;
  try { await v.play(); } catch (e) { return {ok: false, why: String(e)}; }
  await new Promise((r) => setTimeout(r, 1200));
  const played = v.currentTime;
  v.pause(); v.currentTime = 0;
  return {ok: !v.error && played > 0.5, why: v.error ? `error ${v.error.code}` : `played ${played.toFixed(2)} s`};
}))"""


def screenshot(report: Path, out: Path, width: int = 1180, height: int = 1600, full: bool = False) -> Path:
    """Save the screenshot; raises if a video of the report does not play in this browser (each is started muted
    and must have advanced by 0.5 s after 1.2 s)."""
    from playwright.sync_api import sync_playwright  # optional: the e2e extra

    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
        page.goto(report.resolve().as_uri(), wait_until="load")
        page.wait_for_timeout(500)  # the video posters decode
        played = page.evaluate(PLAY_VIDEOS)
        page.screenshot(path=str(out), full_page=full)
        browser.close()
    failed = [p["why"] for p in played if not p["ok"]]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(played)} videos in {report} do not play in {CHROMIUM}: {failed}")
    print(f"{len(played)} videos play in {CHROMIUM}: {', '.join(p['why'] for p in played)}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--width", type=int, default=1180)
    parser.add_argument("--height", type=int, default=1600)
    parser.add_argument("--full", action="store_true", help="the whole page, not one screen")
    args = parser.parse_args()
    print(f"wrote {screenshot(args.report, args.out, args.width, args.height, args.full)}")


if __name__ == "__main__":
    main()
