from datetime import timedelta

import pytest

from accounts import roles
from carriers import dashboard_selectors
from tests.carriers.factories import CallFactory, LoadFactory

from .conftest import chart_on_page, chart_values, make_sales_data, metrics_on_page

pytestmark = pytest.mark.django_db

METRICS = "/api/v1/metrics/carrier-sales/"
PAGE = "/dashboard/sales/"


@pytest.fixture
def manager(signed_in):
    return signed_in(roles.MANAGER)


def api_metrics(client, start, end):
    response = client.get(METRICS, {"from": start.isoformat(), "to": end.isoformat()})
    assert response.status_code == 200, response.content
    return response.json()


def assert_counts_shown(html, key, counts):
    chart = chart_on_page(html, key, optional=True)
    if chart is None:  # an empty chart is left out, saying so
        assert not any(counts.values())
    else:
        assert list(chart_values(chart).values()) == list(counts.values())


@pytest.mark.parametrize("period", ["today", "7", "30", "90", "custom"])
def test_page_numbers_equal_the_api_for_the_same_days(manager, sales_data, period):
    today = sales_data["today"]
    if period == "custom":
        start, end = today - timedelta(days=21), today - timedelta(days=1)
        query = {"period": "custom", "from": start.isoformat(), "to": end.isoformat()}
    else:
        days = 1 if period == "today" else int(period)
        start, end = today - timedelta(days=days - 1), today
        query = {"period": period}
    response = manager.get(PAGE, query)
    assert response.status_code == 200
    html = response.content.decode()
    api = api_metrics(manager, start, end)
    assert f'href="{METRICS}?from={start.isoformat()}&amp;to={end.isoformat()}"' in html

    shown = metrics_on_page(html)
    assert shown["total_calls"] == str(api["total_calls"])
    assert shown["booked_calls"] == str(api["booked_calls"])
    assert shown["booking_rate"] == f"{api['booking_rate'] * 100:.1f}%"
    assert shown["agreements"] == str(api["agreements"])
    rounds, premium = api["average_rounds_to_agreement"], api["average_premium_pct"]
    assert shown["average_rounds_to_agreement"] == (f"{rounds:.2f}" if rounds is not None else "–")
    assert shown["average_premium_pct"] == (f"{premium:+.2f}%" if premium is not None else "–")
    assert shown["booked_value"] == f"${float(api['booked_value']):,.2f}"

    assert_counts_shown(html, "outcomes", api["outcomes"])
    assert_counts_shown(html, "sentiments", api["sentiments"])
    assert_counts_shown(html, "verification-failures", api["verification_failures"])
    per_day = chart_on_page(html, "calls-per-day")
    by_day = dict(zip(per_day["categories"], zip(*[s["values"] for s in per_day["series"]], strict=True), strict=True))
    assert per_day["categories"][0] == start.isoformat() and per_day["categories"][-1] == end.isoformat()
    for row in api["calls_per_day"]:
        assert by_day[row["date"]] == (row["calls"], row["booked"])
    assert sum(calls for calls, _ in by_day.values()) == api["total_calls"]
    for lane in api["top_lanes"]:
        assert f"<td>{lane['origin']}</td><td>{lane['destination']}</td>" in html.replace("\n", "")


def test_numbers_of_the_last_seven_days(manager, sales_data):
    html = manager.get(PAGE).content.decode()  # 7 days is the default
    shown = metrics_on_page(html)
    assert shown["total_calls"] == "6" and shown["booked_calls"] == "2" and shown["booking_rate"] == "33.3%"
    assert shown["agreements"] == "2" and shown["average_rounds_to_agreement"] == "1.50"
    assert shown["average_premium_pct"] == "+2.50%" and shown["booked_value"] == "$3,050.00"
    assert shown["open_negotiations"] == "2"
    funnel = chart_values(chart_on_page(html, "funnel"))
    assert funnel == {"Calls": 6, "Carrier verified": 3, "Load matched": 2, "Offer made": 2, "Booked": 2}
    failures = chart_values(chart_on_page(html, "verification-failures"))
    assert failures["Not allowed to operate"] == 1 and failures["Out of service"] == 1
    assert failures["Required insurance not on file"] == 1
    assert "L-3" in html and "L-4" in html and "Great Lakes Haulage LLC" in html


def test_the_funnel_narrows_and_ends_at_the_booked_calls(sales_data):
    today = sales_data["today"]
    funnel = dashboard_selectors.sales_funnel(start=today - timedelta(days=89), end=today)
    counts = [stage["count"] for stage in funnel]
    assert counts == [8, 4, 3, 3, 3]
    assert counts == sorted(counts, reverse=True)
    assert dashboard_selectors.sales_funnel(start=today, end=today)[0]["count"] == 2


def test_a_call_with_offer_rounds_counts_as_offer_made(sales_data):
    from carriers.models import Call, Offer

    declined = Call.objects.get(external_id="c-1")
    declined.outcome = "carrier_declined"
    declined.save()
    today = sales_data["today"]
    assert dashboard_selectors.sales_funnel(start=today, end=today)[3]["count"] == 0
    Offer.objects.filter(round=1, decision="accept").update(call=declined)
    assert dashboard_selectors.sales_funnel(start=today, end=today)[3]["count"] == 1


def test_open_negotiations_never_show_the_ceiling(signed_in, sales_data):
    html = signed_in(roles.SALES_AGENT).get(PAGE).content.decode()
    assert "L-3" in html
    for load in sales_data["loads"]:
        assert f"{load.max_rate}" not in html


def test_htmx_asks_for_the_part_that_changes(manager, sales_data):
    response = manager.get(PAGE, {"period": "today"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "HX-Request" in response["Vary"]
    assert html.lstrip().startswith('<div id="sales-body"') and "<html" not in html
    assert metrics_on_page(html)["total_calls"] == "2"
    assert 'data-period="today" aria-current="true"' in html
    restore = manager.get(PAGE, {"period": "today"}, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in restore.content.decode()


def test_periods_work_as_plain_links(manager, sales_data):
    html = manager.get(PAGE).content.decode()
    for key in ("today", "7", "30", "90"):
        assert f'href="/dashboard/sales/?period={key}"' in html
    assert 'method="get" action="/dashboard/sales/"' in html
    assert metrics_on_page(manager.get(PAGE, {"period": "30"}).content.decode())["total_calls"] == "7"
    assert metrics_on_page(manager.get(PAGE, {"period": "90"}).content.decode())["total_calls"] == "8"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"period": "custom", "from": "2026-11-20", "to": "2026-11-01"}, "Must not be before the first day."),
        ({"period": "custom", "from": "2026-11-20"}, "Choose the last day."),
        ({"period": "custom", "from": "yesterday", "to": "2026-11-01"}, "Enter a valid date."),
        ({"period": "custom", "from": "2020-01-01", "to": "2026-11-01"}, "Choose at most 1098 days."),
        ({"period": "365"}, "Select a valid choice."),
    ],
)
def test_a_bad_period_is_refused_with_a_message(manager, sales_data, query, message):
    response = manager.get(PAGE, query)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html and 'role="alert"' in html and "data-metric" not in html


def test_an_empty_period_says_so(manager, sales_data):
    html = manager.get(PAGE, {"period": "custom", "from": "2000-01-01", "to": "2000-01-31"}).content.decode()
    assert metrics_on_page(html)["total_calls"] == "0"
    assert "No calls in this period." in html and 'data-chart="chart-outcomes-data"' not in html


def test_charts_carry_their_table_and_use_the_vendored_library(manager, sales_data):
    html = manager.get(PAGE).content.decode()
    assert '<script src="/static/vendor/echarts/echarts.min.js" defer></script>' in html
    assert '<script src="/static/django_htmx/htmx-2.min.js" defer></script>' in html
    assert "http://" not in html.replace('href="http://', "") and "https://" not in html
    for key in ("funnel", "calls-per-day", "outcomes", "sentiments", "verification-failures", "equipment"):
        assert f'data-chart="chart-{key}-data" role="img" aria-label=' in html
    assert html.count('<details class="chart-table" open>') == 6


def test_the_page_takes_the_same_number_of_queries_whatever_the_data(manager, django_assert_num_queries):
    make_sales_data(extra_calls=1)
    manager.get(PAGE)  # warms the session and the runtime settings cache
    with django_assert_num_queries(14):
        small = manager.get(PAGE, {"period": "90"})
    for n in range(40):
        CallFactory(external_id=f"c-more-{n}", load=LoadFactory(load_id=f"L-more-{n}", origin_city=f"City {n}"))
    with django_assert_num_queries(14):
        large = manager.get(PAGE, {"period": "90"})
    assert int(metrics_on_page(large.content.decode())["total_calls"]) == (
        int(metrics_on_page(small.content.decode())["total_calls"]) + 40
    )
