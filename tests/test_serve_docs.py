"""`affect serve` API docs (Swagger UI at /docs, ReDoc at /redoc) work offline: every script,
style and icon they load is served by the app itself (fastapi-offline), none from a CDN."""

from __future__ import annotations

import re
import socket
import threading
import time
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

pytest.importorskip("python_multipart")
from fastapi.testclient import TestClient  # noqa: E402

from affectkit.serve.app import create_app  # noqa: E402


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("src", "href") and v:
                self.refs.append(v)


def refs(html: str) -> list[str]:
    p = _Refs()
    p.feed(html)
    # plus any absolute URL in inline scripts (the spec URL, a validator badge …)
    return p.refs + re.findall(r"""["'](https?://[^"']+)["']""", html)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with TestClient(create_app(tmp_path_factory.mktemp("docs"), pool="none")) as c:
        yield c


@pytest.mark.parametrize("page, kinds", [
    ("/docs", {"javascript", "css", "png"}),
    ("/redoc", {"javascript", "png"}),
])
def test_docs_pages_reference_only_local_assets_that_exist(client, page, kinds):
    r = client.get(page)
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    found = refs(r.text)
    assert found, "no assets referenced?"
    remote = [u for u in found if urlsplit(u).netloc]
    assert not remote, f"{page} loads from outside the server: {remote}"
    seen = set()
    for u in found:
        got = client.get(u)
        assert got.status_code == 200, (u, got.status_code)
        assert len(got.content) > 100, u
        seen |= {k for k in kinds if k in got.headers["content-type"] or u.endswith("." + k)}
    assert seen == kinds, f"{page}: expected {kinds}, got {seen}"
    assert "/openapi.json" in r.text
    if page == "/docs":
        # no online validator badge either (Swagger UI would fetch validator.swagger.io)
        assert '"validatorUrl": null' in r.text


def test_docs_assets_are_the_bundled_swagger_ui(client):
    js = client.get("/static-offline-docs/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in js.text[:20000] or "SwaggerUIBundle" in js.text
    css = client.get("/static-offline-docs/swagger-ui.css")
    assert ".swagger-ui" in css.text
    assert not re.findall(r"url\((?:['\"])?https?://", css.text)  # no remote fonts/images


def _chromium() -> str:
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if p := shutil.which(name):
            return p
    pytest.skip("needs a Chromium binary (Debian: apt-get install -y chromium)")


def test_swagger_ui_renders_in_chromium_with_the_network_cut(tmp_path):
    exe = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(tmp_path / "srv", pool="none"),
                                        host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    t0 = time.time()
    while not srv.started:
        assert time.time() - t0 < 30 and t.is_alive(), "the server did not start"
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    blocked: list[str] = []
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, headless=True,
                                         args=["--no-sandbox", "--disable-gpu",
                                               "--disable-dev-shm-usage"])
            try:
                page = browser.new_page()

                def route(r):  # offline: anything not on this server is refused
                    if r.request.url.startswith(base):
                        r.continue_()
                    else:
                        blocked.append(r.request.url)
                        r.abort()

                page.route("**/*", route)
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(base + "/docs")
                page.wait_for_selector(".swagger-ui .info .title", timeout=60_000)
                assert "affectkit" in page.inner_text(".swagger-ui .info .title")
                page.wait_for_selector(".opblock-summary-path", timeout=30_000)
                paths = page.locator(".opblock-summary-path").all_inner_texts()
                assert any("/v1/text" in p for p in paths) and any("/v1/jobs" in p for p in paths)
                assert not errors, errors
            finally:
                browser.close()
    finally:
        srv.should_exit = True
        t.join(15)
    assert not blocked, f"/docs tried to reach: {blocked}"
