"""The API explains itself offline: /api/docs loads Swagger UI from the app itself (the
machines this runs on are often offline), and /api/v1 answers with an index of links."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from wildloop import __version__

CHROMIUM = "/usr/bin/chromium"
REFERENCE = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


def test_docs_page_references_only_assets_the_app_serves(app_client):
    client = app_client(None)
    page = client.get("/api/docs")
    assert page.status_code == 200
    found = [a or b for a, b in REFERENCE.findall(page.text)]
    assert len(found) >= 4, found  # style, icon, script, the OpenAPI schema
    assert not re.search(r"https?://", page.text), "the docs page names another host"
    for url in found:
        assert url.startswith("/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
    assert any(u.endswith(".js") for u in found) and any(u.endswith(".css") for u in found)


def test_api_root_is_an_index_of_links(app_client):
    anonymous, rita = app_client(None), app_client("rita")
    response = anonymous.get("/api/v1")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    index = response.json()
    assert index["name"] == "wildloop" and index["version"] == __version__
    assert anonymous.get(index["docs"]).status_code == 200
    assert anonymous.get(index["openapi"]).json()["info"]["version"] == __version__
    assert {"media", "marked", "me", "jobs", "models"} <= set(index["resources"])
    for url in index["resources"].values():
        assert anonymous.get(url).status_code == 401, url  # real endpoints that need a login
        assert rita.get(url).status_code == 200, url


@pytest.mark.slow
@pytest.mark.browser
def test_docs_render_operations_with_other_hosts_unreachable(live_url):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    local = urlsplit(live_url).netloc
    elsewhere: list[str] = []

    def only_local(route: Any) -> None:
        if urlsplit(route.request.url).netloc == local:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.route("**/*", only_local)
            page.goto(f"{live_url}/api/docs")
            page.wait_for_selector(".opblock", timeout=20_000)
            operations = page.locator(".opblock").count()
            paths = page.locator(".opblock-summary-path").all_inner_texts()
        finally:
            browser.close()
    assert operations >= 20
    assert "/api/v1/media/{media_id}/actions" in [p.replace("\u200b", "") for p in paths]
    assert elsewhere == []
