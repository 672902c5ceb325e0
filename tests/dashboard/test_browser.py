"""The dashboard in a real browser (Chromium through Playwright) against a live server.

Debian's Chromium is used (``apt-get install chromium``); Playwright's own browser download
is not needed. Without Chromium these tests are skipped, saying how to enable them. Each
page's screenshot is written to ``screenshots/`` (or ``$DASHBOARD_SCREENSHOTS``).
"""

import os
import re
import shutil
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from accounts import roles
from tests.factories import UserFactory

from .conftest import PASSWORD, make_community_data, make_dispatch_data, make_registry_data, make_sales_data

pytestmark = pytest.mark.browser

CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser", "google-chrome")
SCREENSHOTS = Path(os.environ.get("DASHBOARD_SCREENSHOTS", Path(__file__).resolve().parents[2] / "screenshots"))
TIMEOUT_MS = 10_000


def find_chromium() -> str | None:
    """``CHROMIUM_PATH`` when set (and only it), else Debian's Chromium or one on the PATH."""
    chosen = os.environ.get("CHROMIUM_PATH")
    for candidate in [chosen] if chosen else CHROMIUM_CANDIDATES:
        path = candidate if os.path.isabs(candidate) else shutil.which(candidate)
        if path and os.access(path, os.X_OK):
            return path
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    path = find_chromium()
    if path is None:
        pytest.skip(
            "Browser tests need Chromium: `apt-get install chromium` (Debian/Ubuntu), "
            "or point CHROMIUM_PATH at a Chromium or Chrome binary."
        )
    # Playwright's synchronous API keeps an event loop running in the test thread, and
    # Django refuses ORM calls from a thread with a running loop unless told it is safe.
    # It is: the tests and the live server use the ORM synchronously, each in its own thread.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    return {**browser_type_launch_args, "executable_path": path, "args": ["--no-sandbox", "--disable-gpu"]}


class Watch:
    """Records console errors, page errors and every request that tries to leave the server."""

    def __init__(self, context, origin):
        self.origin = origin
        self.errors: list[str] = []
        self.outside: list[str] = []
        context.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        if url.startswith(("data:", "blob:")) or url.startswith(self.origin + "/"):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def attach(self, page):
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.set_default_timeout(TIMEOUT_MS)
        return page

    def assert_clean(self):
        assert self.errors == [], f"console errors: {self.errors}"
        assert self.outside == [], f"requests leaving the server: {self.outside}"


@pytest.fixture
def browse(browser, live_server):
    """``browse(java_script_enabled=True, **context options)`` → (page, watch)."""
    contexts = []

    def _open(**options):
        context = browser.new_context(base_url=live_server.url, **options)
        contexts.append(context)
        watch = Watch(context, live_server.url)
        page = watch.attach(context.new_page())
        return page, watch

    yield _open
    for context in contexts:
        context.close()


def screenshot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, username, path="/dashboard/sales/"):
    page.goto(path)
    assert urlsplit(page.url).path == "/sign-in/"
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(rf"{re.escape(path)}$"))


def shown(page, metric):
    return page.locator(f'[data-metric="{metric}"]').first.inner_text().strip()


def api(page, path, **params):
    """The API's answer with the browser's own session, as a user following the page's link gets it."""
    response = page.request.get(path, params=params or None)
    assert response.status == 200, response.text()
    return response.json()


def wait_for_charts(page, count):
    page.wait_for_function("n => document.querySelectorAll('.chart-canvas[data-rendered] svg').length >= n", arg=count)


@pytest.fixture
def data(transactional_db):
    make_registry_data()
    make_dispatch_data()
    make_community_data()
    return make_sales_data()


def percent(ratio):
    return f"{ratio * 100:.1f}%" if ratio is not None else "–"


def test_a_manager_opens_every_page_and_sees_the_api_numbers(browse, data):
    UserFactory(username="morgan", roles=[roles.MANAGER], is_staff=True)
    page, watch = browse(viewport={"width": 1280, "height": 900})
    page.goto("/sign-in/")
    screenshot(page, "sign-in")
    sign_in(page, "morgan")

    # Sales desk, last 7 days by default.
    wait_for_charts(page, 6)
    today = data["today"]
    week = api(
        page,
        "/api/v1/metrics/carrier-sales/",
        **{"from": (today - timedelta(days=6)).isoformat(), "to": today.isoformat()},
    )
    assert shown(page, "total_calls") == str(week["total_calls"]) == "6"
    assert shown(page, "booked_calls") == str(week["booked_calls"])
    assert shown(page, "booking_rate") == f"{week['booking_rate'] * 100:.1f}%"
    assert shown(page, "average_premium_pct") == f"{week['average_premium_pct']:+.2f}%"
    assert page.locator("#chart-funnel-title").inner_text() == "From call to booking"
    funnel_svg = page.locator('[data-chart="chart-funnel-data"] svg')
    assert "Booked" in funnel_svg.inner_html()  # the SVG renderer leaves labels readable in the DOM
    assert not page.locator("details.chart-table").first.evaluate("d => d.open")  # chart drawn, table folded
    screenshot(page, "sales")

    # Switch the period in place: the URL changes, the page does not reload.
    page.evaluate("window.__stillHere = true")
    page.get_by_role("link", name="Today", exact=True).click()
    page.wait_for_url(re.compile(r"period=today"))
    page.wait_for_function(
        "() => document.querySelector('[data-period=today]').getAttribute('aria-current') === 'true'"
    )
    day = api(page, "/api/v1/metrics/carrier-sales/", **{"from": today.isoformat(), "to": today.isoformat()})
    assert shown(page, "total_calls") == str(day["total_calls"]) == "2"
    assert page.evaluate("window.__stillHere") is True
    wait_for_charts(page, 3)

    start = today - timedelta(days=89)
    page.locator("#period-from").fill(start.isoformat())
    page.locator("#period-to").fill(today.isoformat())
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"period=custom"))
    quarter = api(page, "/api/v1/metrics/carrier-sales/", **{"from": start.isoformat(), "to": today.isoformat()})
    page.wait_for_function(
        f"() => document.querySelector('[data-metric=total_calls]').textContent.trim() === '{quarter['total_calls']}'"
    )
    assert page.evaluate("window.__stillHere") is True

    # Back restores the earlier period from the server.
    page.go_back()
    page.wait_for_url(re.compile(r"period=today"))
    page.wait_for_function("() => document.querySelector('[data-metric=total_calls]').textContent.trim() === '2'")

    # Overview: one tile per area with its headline numbers.
    page.get_by_role("link", name="Overview").click()
    page.wait_for_url(re.compile(r"/$"))
    statistics = api(page, "/api/v1/registry/statistics/")
    assert page.locator("#tile-sales [data-metric=total_calls]").inner_text() == str(week["total_calls"])
    assert page.locator("#tile-registry [data-metric=total]").inner_text() == str(statistics["total"])
    assert page.locator("#tile-registry [data-metric=required_not_healthy]").inner_text() == "1"
    with page.expect_response(lambda response: response.url.endswith("/dashboard/tiles/registry/")):
        page.locator("#tile-registry").get_by_role("link", name="Refresh").click()
    page.locator("#tile-registry [data-metric=total]").wait_for()
    assert urlsplit(page.url).path == "/"  # refreshed in place
    assert page.locator("#tile-registry [data-metric=total]").inner_text() == str(statistics["total"])
    screenshot(page, "overview")

    # Registry: status tiles, then a service's dependency graph, opened from the keyboard.
    page.get_by_role("navigation", name="Dashboard pages").get_by_role("link", name="Service registry").click()
    page.wait_for_url(re.compile(r"/dashboard/registry/$"))
    assert shown(page, "total") == str(statistics["total"])
    assert shown(page, "stale") == str(statistics["stale"])
    assert page.locator("[data-service]").first.get_attribute("data-service") == "gateway"
    assert page.locator('[data-service="cache"] [data-state]').inner_text() == "Stale"
    wait_for_charts(page, 1)
    screenshot(page, "registry")

    page.locator('[data-service="router"]').focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/dashboard/registry/services/router/$"))
    graph = page.locator('[data-chart="service-graph-data"] svg')
    graph.wait_for()
    needs = [s["name"] for s in api(page, "/api/v1/registry/services/router/dependencies/", transitive="true")]
    needed_by = [s["name"] for s in api(page, "/api/v1/registry/services/router/dependents/", transitive="true")]
    assert page.locator("[data-list=needs] a").all_inner_texts() == needs
    assert page.locator("[data-list=needed-by] a").all_inner_texts() == needed_by
    drawn = graph.inner_html()
    assert all(name in drawn for name in ["router", *needs, *needed_by])
    assert page.evaluate("document.activeElement.id") == "graph-title"
    screenshot(page, "registry-service")

    # Following a dependency swaps the panel for that service.
    page.locator("[data-list=needs]").get_by_role("link", name="db").click()
    page.wait_for_url(re.compile(r"/services/db/$"))
    page.wait_for_function("() => document.querySelector('[data-selected-service]').dataset.selectedService === 'db'")
    assert page.locator('[data-service="db"]').get_attribute("aria-current") == "true"
    assert page.locator('[data-service="router"]').get_attribute("aria-current") is None

    # Dispatch: the metrics of the last 7 days, today's routes drawn from the hub.
    page.get_by_role("navigation", name="Dashboard pages").get_by_role("link", name="Dispatch").click()
    page.wait_for_url(re.compile(r"/dashboard/dispatch/$"))
    wait_for_charts(page, 6)  # today's routes, orders by status, fleet, three estimate errors
    logistics = api(
        page,
        "/api/v1/metrics/logistics/",
        **{"from": (today - timedelta(days=6)).isoformat(), "to": today.isoformat()},
    )
    assert shown(page, "orders") == str(sum(logistics["orders_by_status"].values()))
    assert shown(page, "pending") == str(logistics["orders_by_status"]["pending"])
    assert shown(page, "on_time_rate") == percent(logistics["on_time_rate"])
    assert shown(page, "utilisation_now") == percent(logistics["fleet"]["utilisation_now"])
    assert shown(page, "mape_cost") == f"{logistics['mape']['cost']:.2f}%"
    routes_link = page.locator("#routes-title ~ p a").get_attribute("href")
    routes = [r for r in api(page, routes_link.replace("&amp;", "&"))["results"] if r["status"] != "cancelled"]
    assert shown(page, "routes_today") == str(len(routes)) == "2"
    for route in routes:
        stops = page.locator(f'[data-stops="{route["reference"]}"] li').all_inner_texts()
        assert [text.split(" (")[0] for text in stops] == [stop["city"] for stop in route["stops"]]
    drawn = page.locator('[data-chart="route-map-data"] svg').inner_html()
    assert "Nairobi" in drawn and "1. Nakuru" in drawn  # the hub and the stops, labelled
    calibration = page.locator('[data-chart="chart-error-cost-data"] svg').inner_html()
    assert "nearest city first" in calibration  # one line per policy
    screenshot(page, "dispatch")

    page.evaluate("window.__stillHere = true")
    page.get_by_role("link", name="30 days", exact=True).click()
    page.wait_for_url(re.compile(r"/dashboard/dispatch/\?period=30"))
    page.wait_for_function(
        "() => document.querySelector('[data-period=\"30\"]').getAttribute('aria-current') === 'true'"
    )
    month = api(
        page,
        "/api/v1/metrics/logistics/",
        **{"from": (today - timedelta(days=29)).isoformat(), "to": today.isoformat()},
    )
    assert shown(page, "deliveries") == str(month["deliveries"])
    assert page.evaluate("window.__stillHere") is True

    # Community: the lists as the API gives them, the report queue for a moderator.
    page.get_by_role("navigation", name="Dashboard pages").get_by_role("link", name="Community").click()
    page.wait_for_url(re.compile(r"/dashboard/community/$"))
    wait_for_charts(page, 3)
    unanswered = api(page, "/api/v1/community/posts/", unanswered="true", status="published", ordering="created_at")
    assert shown(page, "unanswered") == str(unanswered["count"]) == "2"
    titles = page.locator("[data-list=unanswered] .post-list__title").all_inner_texts()
    assert titles == [post["title"] for post in unanswered["results"]]
    latest = api(page, "/api/v1/community/posts/", ordering="-created_at")
    first = page.locator("[data-list=latest] li").first.get_attribute("data-post")
    assert first == latest["results"][0]["id"]
    reports = api(page, "/api/v1/community/reports/", status="open")
    assert shown(page, "open_reports") == str(reports["count"]) == "2"
    assert page.locator("[data-table=active-members] tbody tr").count() == 3
    screenshot(page, "community")
    watch.assert_clean()


def test_a_dispatcher_and_a_member_see_their_own_pages(browse, data):
    UserFactory(username="dara", roles=[roles.DISPATCHER])
    page, watch = browse(viewport={"width": 1280, "height": 900})
    sign_in(page, "dara", "/dashboard/dispatch/")
    wait_for_charts(page, 6)
    nav = page.get_by_role("navigation", name="Dashboard pages").get_by_role("link").all_inner_texts()
    assert nav == ["Overview", "Dispatch"]
    assert page.request.get("/dashboard/community/").status == 403
    page.get_by_role("link", name="Overview").click()
    page.wait_for_url(re.compile(r"/$"))
    assert page.locator("#tile-dispatch [data-metric=routes_today]").inner_text() == "2"
    assert page.locator(".tile").count() == 1
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/sign-in/$"))

    sign_in(page, "alice", "/dashboard/community/")  # a member of the forum
    wait_for_charts(page, 3)
    nav = page.get_by_role("navigation", name="Dashboard pages").get_by_role("link").all_inner_texts()
    assert nav == ["Overview", "Community"]
    assert page.locator("[data-metric=open_reports]").count() == 0  # not a moderator
    assert page.request.get("/dashboard/dispatch/").status == 403
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "community-phone")
    watch.assert_clean()


def test_the_sales_page_is_readable_on_a_phone(browse, data):
    UserFactory(username="sasha", roles=[roles.SALES_AGENT])
    page, watch = browse(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    sign_in(page, "sasha")
    wait_for_charts(page, 6)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    nav = page.get_by_role("navigation", name="Dashboard pages").get_by_role("link").all_inner_texts()
    assert nav == ["Overview", "Sales desk"]  # a sales agent's menu
    assert page.request.get("/dashboard/registry/").status == 403
    screenshot(page, "sales-phone")
    watch.assert_clean()


def test_pages_work_without_javascript(browse, data):
    UserFactory(username="robin", roles=[roles.MANAGER])
    page, watch = browse(java_script_enabled=False)
    sign_in(page, "robin")
    assert page.locator("details.chart-table[open]").count() == 6  # the tables stand in for the charts
    page.get_by_role("link", name="30 days").click()
    page.wait_for_url(re.compile(r"period=30"))
    today = data["today"]
    month = api(
        page,
        "/api/v1/metrics/carrier-sales/",
        **{"from": (today - timedelta(days=29)).isoformat(), "to": today.isoformat()},
    )
    assert shown(page, "total_calls") == str(month["total_calls"]) == "7"
    page.goto("/dashboard/registry/")
    page.locator('[data-service="gateway"]').click()
    page.wait_for_url(re.compile(r"/services/gateway/$"))
    assert page.locator("[data-list=needs] a").all_inner_texts() == ["cache", "disk", "db", "router"]
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/sign-in/$"))
    watch.assert_clean()


def test_a_tile_refreshes_when_its_area_changes_without_polling(browse, data):
    """The overview listens to the event stream: a service registered elsewhere moves the registry tile's count
    at once, through the stream, where the page used to poll every minute."""
    from registry import services as registry_services

    UserFactory(username="reggie", roles=[roles.REGISTRY_OPERATOR])
    page, watch = browse(viewport={"width": 1280, "height": 900})
    sign_in(page, "reggie", "/")
    page.wait_for_selector("body[data-live=on]")  # the stream is connected
    before = int(page.locator("#tile-registry [data-metric=total]").inner_text())
    registry_services.service_create(name="billing-live", health_check_url="")
    page.wait_for_function(
        "n => Number(document.querySelector('#tile-registry [data-metric=total]').textContent) === n",
        arg=before + 1,
    )
    watch.assert_clean()
