"""The follow-up part of a browser run: log in with the receipt, write, add a file."""

from __future__ import annotations

from api.web.i18n import translations
from tests.web.browsing import UploadFile, Visit, screenshot, serious_violations, tiny_png


def follow_up(v: Visit, lang: str, receipt: str, screenshots: bool) -> None:
    gettext = translations(lang).gettext
    page = v.page
    v.goto(f"/followup?lang={lang}")
    assert page.inner_text("h1") == gettext("Follow up with your receipt")
    assert serious_violations(v) == []
    # People copy receipts with spaces or in lower case; both must work.
    page.fill("#receipt", receipt.replace("-", " ").lower())
    page.click("form[action^='/followup?'] button[type=submit]")
    page.wait_for_selector("#write")
    assert page.url == v.base_url + f"/followup?lang={lang}"
    assert gettext("Received; not read yet") in page.inner_text("main")
    assert serious_violations(v) == []

    message = f"Дадатковыя звесткі ({lang}): сведка бачыў машыну."
    page.fill("#message", message)
    page.click("form[action^='/followup?'] button[type=submit]")
    page.wait_for_selector("p.notice")
    assert page.inner_text("p.notice") == gettext("Your message has been sent.")
    assert message in page.inner_text("ol.messages")

    extra = UploadFile(f"дадатак-{lang}.png", "image/png", tiny_png(7 + len(lang)))
    page.set_input_files("#files", files=[extra.payload()])
    uploads_before = sum("/api/v1/uploads" in u for u in v.requests)
    page.click("#followup-files button[type=submit]")
    page.wait_for_selector("p.notice", state="attached")
    page.wait_for_function(
        "t => document.querySelector('p.notice').textContent === t",
        arg=gettext("Your files have been received."), timeout=60_000)
    body = page.inner_text("main")
    assert extra.name in body and extra.sha256 in body
    # With JavaScript the file went up resumably (tus, with a progress bar), as on the
    # report form; without it, in the form post itself.
    uploads = sum("/api/v1/uploads" in u for u in v.requests) - uploads_before
    assert (uploads >= 2) if v.javascript else (uploads == 0), uploads
    assert serious_violations(v) == []
    if screenshots:
        page.set_viewport_size({"width": 360, "height": 800})
        screenshot(page, f"followup-{lang}-360")
        page.set_viewport_size({"width": 1280, "height": 900})
