"""The web page of `affect serve` in headless Chromium: upload the demo clip, wait for the job,
see the results table and the report's timeline drawn."""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest

from conftest import REPO

DEMO = REPO / "examples" / "demo"


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if p := shutil.which(name):
            return p
    pytest.skip("needs a Chromium binary (Debian: apt-get install -y chromium)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("python_multipart")
    import uvicorn

    from affectkit.serve.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(tmp_path_factory.mktemp("serve-browser"), pool="thread", workers=1)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    t0 = time.time()
    while not srv.started:
        assert time.time() - t0 < 30 and t.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    t.join(15)


def test_upload_demo_clip_and_see_the_timeline(server):
    exe = chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (pip install playwright)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(server + "/")
            assert page.title().startswith("affectkit")
            page.wait_for_selector("#health:has-text('worker')")
            page.select_option("#asr", "tiny.en")  # the faster speech recogniser (a busy CI box)
            # the page's own input (what a drop or the file chooser feeds)
            page.set_input_files("#file", str(DEMO / "interview.mp4"))
            page.wait_for_selector("#jobs tbody tr", timeout=30_000)
            page.wait_for_selector("#d-status.done", timeout=400_000)
            # per-file state and the results table
            assert page.inner_text("#d-files tbody").count("done") == 1
            rows = page.locator("#results tbody tr")
            assert rows.count() >= 1
            assert "interview.mp4" in rows.first.inner_text()
            assert page.locator("#results .chip").count() == rows.count()
            # the embedded report: its timeline SVG has one polyline per emotion + sentiment
            page.wait_for_function("document.querySelector('#report').srcdoc.length > 0")
            frame = page.frame_locator("#report")
            svg = frame.locator("svg.timeline").first
            svg.wait_for(timeout=30_000)
            n_lines = frame.locator("svg.timeline polyline").count()
            assert n_lines >= 8, n_lines
            points = frame.locator("svg.timeline polyline.sentiment").first.get_attribute("points")
            assert len(points.split()) >= 2
            box = svg.bounding_box()
            assert box and box["width"] > 200 and box["height"] > 100  # drawn, not hidden
            # download buttons are there; the page made no request beyond this server
            assert page.locator("[data-dl]").count() == 4
            with page.expect_download() as dl:
                page.click("[data-dl=csv]")
            assert dl.value.suggested_filename.endswith("utterances.csv")
            assert all(u.startswith(server) or u.startswith(("blob:", "data:", "about:")) for u in requests), requests
            assert not errors, errors
        finally:
            browser.close()
