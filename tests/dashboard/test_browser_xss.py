"""Nothing a user types runs in another user's browser: the dashboard in Chromium with markup in
every free-text field (``hostile.make_hostile_data``).

Each page is opened, every chart's tooltip is forced open for every data point (and the legend's
tooltips hovered), and the test fails if the markup ran (``window.__xss``), opened a dialog, or
made the browser report a Content-Security-Policy violation. It runs twice: with the policy, and
with the browser told to ignore it, so the escaping is shown to hold on its own as well.
"""

import re
from urllib.parse import urlsplit

import pytest
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from accounts import roles
from tests.factories import UserFactory

from . import test_browser
from .hostile import SHOWN, hostile_service, make_hostile_data
from .test_browser import sign_in, wait_for_charts

pytestmark = pytest.mark.browser

# test_browser.py's fixtures: Debian's Chromium, and a page with its Watch on the live server.
browser_type_launch_args = test_browser.browser_type_launch_args
browse = test_browser.browse

# Recorded before any script of the page runs, so a violation during parsing counts too.
WATCH_POLICY = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI + " " + (event.sample || ""));
}, true);
"""

# Every chart on the page: each series' every data point (and a graph's every edge) with its
# tooltip forced open, read back as text, and whether the tooltip holds any element it should not.
# An image let in is waited for until it has loaded or failed, so its onerror has had its chance.
OPEN_EVERY_TOOLTIP = """
async () => {
  const shown = [];
  const settled = [];
  for (const el of document.querySelectorAll(".chart-canvas[data-rendered]")) {
    const chart = echarts.getInstanceByDom(el);
    const series = chart.getOption().series;
    const points = [];
    series.forEach((s, seriesIndex) => {
      // A day without a value has no point to hover, and no tooltip.
      (s.data || []).forEach((value, dataIndex) => value !== null && points.push({ seriesIndex, dataIndex }));
      // showTip cannot name a graph's edge: point at the middle of its curve instead (ECharts
      // bends an edge through a control point set off by curveness, as in its simpleLayoutEdge).
      const at = {};
      (s.links ? s.data : []).forEach((node) => { at[node.name] = [node.x, node.y]; });
      const bend = (s.lineStyle && s.lineStyle.curveness) || 0;
      (s.links || []).forEach((link) => {
        const [a, b] = [at[link.source], at[link.target]];
        const control = [(a[0] + b[0]) / 2 - (a[1] - b[1]) * bend, (a[1] + b[1]) / 2 - (b[0] - a[0]) * bend];
        const middle = [0, 1].map((i) => ((a[i] + b[i]) / 2 + control[i]) / 2);
        const [x, y] = chart.convertToPixel({ seriesIndex }, middle);
        points.push({ x, y });
      });
    });
    for (const point of points) {
      chart.dispatchAction({ type: "showTip", ...point });
      const tip = el.querySelector(".chart-tooltip");
      for (const img of tip ? tip.querySelectorAll("img") : []) {
        settled.push(new Promise((done) => {
          if (img.complete) return done();
          img.addEventListener("load", done);
          img.addEventListener("error", done);
        }));
      }
      shown.push({
        chart: el.dataset.chart,
        point,
        text: tip ? tip.textContent : "",
        elements: tip ? Array.from(tip.querySelectorAll("img, script, iframe, object, svg")).length : 0,
      });
    }
    chart.dispatchAction({ type: "hideTip" });
  }
  await Promise.all(settled);
  return shown;
}
"""

# Charts whose data carries stored text (the others draw only dates, numbers and fixed labels).
CHARTS_WITH_STORED_TEXT = {
    "/dashboard/dispatch/": {
        "route-map-data",  # hub, vehicles, routes, stop cities
        "chart-error-cost-data",  # planning policies
        "chart-error-duration-data",
        "chart-error-distance-data",
    },
    "/dashboard/community/": {"chart-active-members-data"},  # members' names
}


@pytest.fixture
def hostile_data(transactional_db):
    return make_hostile_data()


class Attack:
    """What the stored markup could do in the page: run, open a dialog, trip the policy."""

    def __init__(self, page):
        self.page = page
        self.dialogs: list[str] = []
        self.refused: list[str] = []  # the browser's own console reports of the policy refusing something
        self.expected: list[str] = []  # refusals a test expects, by a part of their text
        page.add_init_script(WATCH_POLICY)
        page.on("dialog", self._dialog)
        page.on("console", self._console)

    def _console(self, message):
        if "Content Security Policy" in message.text:
            self.refused.append(message.text)

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def assert_nothing_ran(self):
        assert self.page.evaluate("window.__xss") is None, f"stored markup ran on {self.page.url}"
        assert self.dialogs == [], f"dialogs on {self.page.url}: {self.dialogs}"
        violations = [v for v in self.page.evaluate("window.__cspViolations") if not self._expected(v)]
        assert violations == [], f"Content-Security-Policy violations on {self.page.url}: {violations}"
        refused = [message for message in self.refused if not self._expected(message)]
        assert refused == [], f"Content-Security-Policy refusals on {self.page.url}: {refused}"

    def _expected(self, text):
        return any(part in text for part in self.expected)


def open_every_tooltip(page, attack) -> list[dict]:
    shown = page.evaluate(OPEN_EVERY_TOOLTIP)
    attack.assert_nothing_ran()
    assert shown, f"no chart point on {page.url}"
    assert all(tip["text"] for tip in shown), [tip for tip in shown if not tip["text"]]
    assert [tip for tip in shown if tip["elements"]] == [], "a tooltip holds markup as elements"
    return shown


def hover_legend_entries(page, chart_id):
    """The line charts shorten long legend names and show them whole in a tooltip on hover."""
    chart = page.locator(f'[data-chart="{chart_id}"]')
    entries = chart.locator("svg text").filter(has_text=re.compile(r"^<img"))
    assert entries.count() > 0, f"no legend entry with the stored markup in {chart_id}"
    for i in range(entries.count()):
        entries.nth(i).hover()
        tip = chart.locator(".chart-tooltip")
        page.wait_for_function(
            "([el, shown]) => el.textContent.includes(shown) && el.style.display !== 'none'",
            arg=[tip.element_handle(), SHOWN],
        )
        assert tip.locator("img, script").count() == 0
    page.mouse.move(0, 0)


@pytest.mark.parametrize("policy", ["enforced", "ignored"])
def test_stored_markup_shows_as_text_on_every_dashboard_page(browse, hostile_data, policy):
    UserFactory(username="morgan", roles=[roles.MANAGER], is_staff=True, is_superuser=True)
    page, watch = browse(viewport={"width": 1280, "height": 900}, bypass_csp=policy == "ignored")
    attack = Attack(page)
    sign_in(page, "morgan")
    attack.assert_nothing_ran()

    pages = {
        "/dashboard/sales/": 6,
        "/dashboard/dispatch/": 6,
        "/dashboard/registry/": 1,
        f"/dashboard/registry/services/{hostile_service().name}/": 2,  # the board's chart and the graph
        "/dashboard/community/": 3,
    }
    for path, charts in pages.items():
        page.goto(path)
        wait_for_charts(page, charts)
        shown = open_every_tooltip(page, attack)
        for chart_id in CHARTS_WITH_STORED_TEXT.get(path, ()):
            texts = [tip["text"] for tip in shown if tip["chart"] == chart_id]
            assert texts, f"no tooltip of {chart_id}"
            assert any(SHOWN in text for text in texts), f"{chart_id}: the stored markup is not shown as text"
        if path.startswith("/dashboard/registry/services/"):
            graph = [tip["text"] for tip in shown if tip["chart"] == "service-graph-data"]
            assert any(SHOWN in text for text in graph), "the graph's tooltips do not show the display names"
            assert any(" needs " in text for text in graph), "no edge tooltip"
        # Tables and lists beside the charts show the markup as text too, never as elements.
        assert page.get_by_text(SHOWN).count() > 0, f"{path} shows none of the stored markup"
        assert page.locator('img[src="x"], main script:not([src]):not([type="application/json"])').count() == 0
        attack.assert_nothing_ran()

    page.goto("/dashboard/dispatch/")
    wait_for_charts(page, 6)
    hover_legend_entries(page, "chart-error-cost-data")
    attack.assert_nothing_ran()
    watch.assert_clean()


def test_the_api_docs_the_browsable_api_and_the_admin_run_under_the_policy(browse, hostile_data):
    """Swagger UI, ReDoc, DRF's pages and the admin (with its own scripts) load and work
    without a single Content-Security-Policy violation."""
    crontab = CrontabSchedule.objects.create(minute="0", hour="6")
    task = PeriodicTask.objects.create(name="Morning probe", task="registry.check_services", crontab=crontab)
    UserFactory(username="ada", roles=[roles.MANAGER], is_staff=True, is_superuser=True)
    page, watch = browse(viewport={"width": 1280, "height": 900})
    attack = Attack(page)

    page.goto("/api/docs/")
    page.locator(".swagger-ui .info .title").wait_for()
    page.locator(".opblock").first.wait_for()
    attack.assert_nothing_ran()

    page.goto("/api/redoc/")
    page.get_by_role("heading", name=re.compile("Freight & Fleet Operations API")).first.wait_for()
    # ReDoc's menu credits Redocly with a logo from its CDN, which no setting turns off: the policy
    # refuses it (the page loads nothing from elsewhere) and the credit stays as text. The one
    # refusal expected; anything else still fails.
    logo = "https://cdn.redoc.ly/"
    page.wait_for_function("logo => window.__cspViolations.some(v => v.startsWith('img-src ' + logo))", arg=logo)
    attack.expected.append(logo)
    page.get_by_placeholder("Search...").fill("services")  # the search runs in its worker
    page.locator('[data-role="search:results"] [data-item-id$="registry_services_list"]').wait_for()
    attack.assert_nothing_ran()

    sign_in(page, "ada")
    page.goto("/api/v1/registry/services/")
    page.get_by_text(SHOWN).first.wait_for()
    attack.assert_nothing_ran()
    page.locator(".navbar .dropdown-toggle").click()
    # DRF's "Log out" is a form button now, not an onclick link: it signs out and comes back.
    with page.expect_response(lambda response: urlsplit(response.url).path == "/api/v1/registry/services/") as back:
        page.get_by_role("button", name="Log out").click()
    assert back.value.status == 401
    page.locator("form#logoutForm").wait_for(state="detached")

    sign_in(page, "ada")
    page.goto("/admin/")
    page.locator("#site-name").wait_for()
    attack.assert_nothing_ran()
    page.goto("/admin/community/post/")
    page.get_by_text(SHOWN).first.wait_for()
    attack.assert_nothing_ran()
    page.goto(f"/admin/logistics/decision/{hostile_data['decision'].pk}/change/")
    page.locator(".field-plan_readable td").first.wait_for()
    assert SHOWN in page.locator(".field-plan_readable").inner_text()
    attack.assert_nothing_ran()

    # django-celery-beat's form script, moved to a static file, still runs: it hides the translation row.
    page.goto(f"/admin/django_celery_beat/periodictask/{task.pk}/change/")
    page.wait_for_function("() => document.querySelector('.field-crontab_translation').style.display === 'none'")
    attack.assert_nothing_ran()
    # The console's record of the two expected failures: ReDoc's logo, the signed-out list's 401.
    watch.errors = [error for error in watch.errors if logo not in error and "401 (Unauthorized)" not in error]
    watch.assert_clean()
