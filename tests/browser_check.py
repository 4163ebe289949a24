"""Open a report page in headless Chromium (the system's `chromium`, driven by playwright) and
say what a reader would hit: audio that does not load, images that do not decode, requests
that leave the page's folder, console errors. Shared by the report tests and the end-to-end test."""
from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"  # git-ignored


def chromium_path() -> str | None:
    """The system browser (Debian's `chromium` package), or None where none is installed."""
    for name in CHROMIUM_NAMES:
        if found := shutil.which(name):
            return found
    return None


def check_page(index: Path, screenshot: Path, executable: str, timeout_ms: int = 20000) -> dict:
    """Load `index` from disk, wait for every <audio> to load its metadata and every <img> to
    decode, save a full-page screenshot to `screenshot`. Returns what it saw: {"audio":
    [durations], "images": [[w, h]], "outside": [URLs not under the page's folder], "errors":
    [console errors and page errors], "width": page width in CSS px at a phone's viewport}."""
    from playwright.sync_api import sync_playwright

    folder = index.resolve().parent.as_uri() + "/"
    requests, errors = [], []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("request", lambda request: requests.append(request.url))
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(index.resolve().as_uri(), wait_until="load")
            page.wait_for_function(
                "() => [...document.querySelectorAll('audio')].every(a => a.readyState >= 1 || a.error)"
                " && [...document.images].every(i => i.complete)", timeout=timeout_ms)
            audio = page.eval_on_selector_all("audio", "els => els.map(a => a.error ? -1 : a.duration)")
            images = page.eval_on_selector_all("img", "els => els.map(i => [i.naturalWidth, i.naturalHeight])")
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
            page.set_viewport_size({"width": 390, "height": 844})  # a phone
            width = page.evaluate("() => document.documentElement.scrollWidth")
        finally:
            browser.close()
    outside = [url for url in requests if not (url.startswith(folder) or url.startswith("data:"))]
    return {"audio": audio, "images": images, "outside": outside, "errors": errors, "width": width}


def assert_page_works(index: Path, screenshot: Path, executable: str) -> dict:
    seen = check_page(index, screenshot, executable)
    assert seen["audio"] and all(d > 0 for d in seen["audio"]), seen["audio"]
    assert seen["images"] and all(w > 0 and h > 0 for w, h in seen["images"]), seen["images"]
    assert seen["outside"] == [], seen["outside"]
    assert seen["errors"] == [], seen["errors"]
    assert seen["width"] <= 390, f"the page scrolls sideways on a phone: {seen['width']} px"
    assert screenshot.is_file() and screenshot.stat().st_size > 0
    return seen
