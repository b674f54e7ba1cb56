"""End to end in headless Chromium: the page uploads, shows progress, compares, downloads.

Needs the system Chromium (Debian package ``chromium``, /usr/bin/chromium) and the Python
package ``playwright`` (only its driver is used; no browser is downloaded). Skips otherwise.
With ``RESTORA_SCREENSHOTS=1`` it also writes docs/screenshots/web-desktop.png and
web-phone.png.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the 'web' extra (fastapi) is not installed")
pytest.importorskip("uvicorn", reason="the 'web' extra (uvicorn) is not installed")
pytest.importorskip("playwright.sync_api", reason="the Python package playwright is not installed")

from web_helpers import decode, live_server, noisy_photo, psnr

CHROMIUM = os.environ.get("RESTORA_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).is_file(),
                                reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=30_000)
        except Error as exc:
            pytest.skip(f"Chromium at {CHROMIUM} did not start: {exc}")
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server():
    with live_server() as url:
        yield url


def upload_and_wait(page, url: str, name: str, png: bytes) -> None:
    page.goto(url)
    page.wait_for_function("document.querySelector('#limits-hint').textContent.includes('megapixels')")
    page.set_input_files("#file-input", files=[{"name": name, "mimeType": "image/png", "buffer": png}])
    page.wait_for_selector(".card.done .compare-block:not([hidden])", timeout=60_000)
    page.wait_for_function("document.querySelector('.card .after').naturalWidth > 0")


def test_upload_compare_download(browser, server, tmp_path):
    clean, noisy, png = noisy_photo()
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    upload_and_wait(page, server, "noisy.png", png)

    card = page.locator(".card").first
    assert card.locator(".status").inner_text() == "done"
    assert card.locator(".bar").get_attribute("aria-valuenow") == "100"
    assert "Estimated noise level sigma" in card.locator(".decision").inner_text()

    # the comparison slider exists and moves: by the range input and by pointer on the image
    after = card.locator(".after")
    assert "inset(0px 0px 0px 50%)" in after.evaluate("e => getComputedStyle(e).clipPath")
    card.locator(".compare").scroll_into_view_if_needed()
    box = card.locator(".compare").bounding_box()
    page.mouse.click(box["x"] + 0.25 * box["width"], box["y"] + box["height"] / 2)
    assert abs(float(card.locator(".slider").input_value()) - 25) <= 1
    card.locator(".slider").evaluate("s => { s.value = '80'; s.dispatchEvent(new Event('input')); }")
    assert "80%" in after.evaluate("e => e.style.clipPath")
    assert "80%" in card.locator(".divider").evaluate("e => e.style.left")

    # zoom to 100%: the comparison becomes the image's own width, inside a scrolling box
    card.locator(".zoom").click()
    assert "zoomed" in card.locator(".viewport").get_attribute("class")
    width = card.locator(".compare").evaluate("e => e.getBoundingClientRect().width")
    assert abs(width - clean.shape[1]) < 1.5
    if os.environ.get("RESTORA_SCREENSHOTS") != "1":
        card.locator(".zoom").click()

    with page.expect_download() as info:
        card.locator(".download").click()
    download = info.value
    assert download.suggested_filename == "noisy_restored.png"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    restored = decode(target.read_bytes())
    assert restored.shape == clean.shape
    assert psnr(restored, clean) > psnr(noisy, clean) + 4
    assert not errors, errors

    if os.environ.get("RESTORA_SCREENSHOTS") == "1":
        card.locator(".zoom").click()  # back to fit-to-width for the picture
        card.locator(".slider").evaluate("s => { s.value = '50'; s.dispatchEvent(new Event('input')); }")
        page.locator("#advanced").evaluate("d => d.open = true")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.wait_for_timeout(400)
        page.screenshot(path=str(SCREENSHOTS / "web-desktop.png"), full_page=True)
    context.close()


def test_phone_width_layout(browser, server):
    _, _, png = noisy_photo(seed=1)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    upload_and_wait(page, server, "phone.png", png)
    # nothing sticks out sideways at phone width
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator(".compare").bounding_box()["width"] <= 390
    if os.environ.get("RESTORA_SCREENSHOTS") == "1":
        page.wait_for_timeout(400)  # let the progress bar's transition end
        page.screenshot(path=str(SCREENSHOTS / "web-phone.png"), full_page=True)
    context.close()


def test_page_with_a_token(browser):
    from restora.web import ServerSettings

    token = "browser-test-token-0123"
    _, _, png = noisy_photo(size=64, seed=2)
    with live_server(ServerSettings(token=token)) as url:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(url)  # no token yet: the API answers 401 and the page asks for one
        page.wait_for_selector("#token-box:not([hidden])")
        assert "missing or wrong token" in page.locator("#error").inner_text()
        page.fill("#token-input", token)
        page.click("#token-box button")
        upload_and_wait(page, url, "t.png", png)  # reloads: the token stays for the session
        assert page.locator("#token-box").is_hidden()
        # a link with #token=... hands the token over and is cleaned from the address bar
        page2 = context.new_page()
        page2.goto(f"{url}/#token={token}")
        page2.wait_for_function("document.querySelector('#limits-hint').textContent.includes('megapixels')")
        assert page2.evaluate("location.hash") == ""
        context.close()
