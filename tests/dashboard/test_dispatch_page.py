import html as html_lib
import json
import re
from datetime import timedelta

import pytest

from accounts import roles
from logistics import dashboard_selectors, selectors
from logistics.models import Route

from .conftest import (
    OTHER_POLICY,
    POLICY,
    add_dispatch_rows,
    chart_on_page,
    chart_values,
    make_dispatch_data,
    metrics_on_page,
)

pytestmark = pytest.mark.django_db

METRICS = "/api/v1/metrics/logistics/"
PAGE = "/dashboard/dispatch/"


@pytest.fixture
def dispatcher(signed_in):
    return signed_in(roles.DISPATCHER)


def api_metrics(client, start, end):
    response = client.get(METRICS, {"from": start.isoformat(), "to": end.isoformat()})
    assert response.status_code == 200, response.content
    return response.json()


def percent(ratio):
    return f"{ratio * 100:.1f}%" if ratio is not None else "–"


def error(value):
    return f"{value:.2f}%" if value is not None else "–"


def route_map_on_page(html):
    found = re.search(r'<script id="route-map-data" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(found.group(1)) if found else None


def stops_on_page(html):
    """Route reference → the cities of its stops, in the order the table lists them."""
    lists = re.findall(r'<ol class="stops" data-stops="([^"]+)">(.*?)</ol>', html, re.S)
    return {ref: [city.strip() for city in re.findall(r"<li>([^<]+)<span", body)] for ref, body in lists}


@pytest.mark.parametrize("period", ["today", "7", "30", "90", "custom"])
def test_page_numbers_equal_the_api_for_the_same_days(dispatcher, dispatch_data, period):
    today = dispatch_data["today"]
    if period == "custom":
        start, end = today - timedelta(days=2), today - timedelta(days=1)
        query = {"period": "custom", "from": start.isoformat(), "to": end.isoformat()}
    else:
        days = 1 if period == "today" else int(period)
        start, end = today - timedelta(days=days - 1), today
        query = {"period": period}
    response = dispatcher.get(PAGE, query)
    assert response.status_code == 200
    html = response.content.decode()
    api = api_metrics(dispatcher, start, end)
    assert f'href="{METRICS}?from={start.isoformat()}&amp;to={end.isoformat()}"' in html

    shown = metrics_on_page(html)
    assert shown["orders"] == str(sum(api["orders_by_status"].values()))
    assert shown["pending"] == str(api["orders_by_status"]["pending"])
    assert shown["deliveries"] == str(api["deliveries"])
    assert shown["on_time_rate"] == percent(api["on_time_rate"])
    assert shown["utilisation_now"] == percent(api["fleet"]["utilisation_now"])
    assert shown["utilisation_in_period"] == percent(api["fleet"]["utilisation_in_period"])
    for measure in ("cost", "duration", "distance"):
        assert shown[f"mape_{measure}"] == error(api["mape"][measure])

    orders = chart_on_page(html, "orders-by-status", optional=True)
    if orders is None:
        assert not any(api["orders_by_status"].values())
    else:
        assert list(chart_values(orders).values()) == list(api["orders_by_status"].values())
    fleet = api["fleet"]
    assert chart_values(chart_on_page(html, "fleet")) == {
        "In use": fleet["in_use_now"],
        "Available": fleet["vehicles"] - fleet["in_use_now"] - fleet["out_of_service"],
        "Out of service": fleet["out_of_service"],
    }

    # Every day the API reports has its errors on the page; in this data one policy ran per day.
    for measure in ("cost", "duration", "distance"):
        chart = chart_on_page(html, f"error-{measure}", optional=True)
        if chart is None:
            assert api["mape_by_day"] == []
            continue
        assert chart["categories"] == [row["day"] for row in api["mape_by_day"]]
        for i, row in enumerate(api["mape_by_day"]):
            that_day = [s["values"][i] for s in chart["series"] if s["values"][i] is not None]
            assert that_day == [row[measure]]


def test_numbers_of_the_last_seven_days(dispatcher, dispatch_data):
    html = dispatcher.get(PAGE).content.decode()  # 7 days is the default
    shown = metrics_on_page(html)
    assert shown["orders"] == "12" and shown["pending"] == "2"
    assert shown["deliveries"] == "6" and shown["on_time_rate"] == "50.0%"
    assert shown["utilisation_now"] == "66.7%"  # 2 of the 3 vehicles not in maintenance
    assert shown["utilisation_in_period"] == "100.0%"
    assert shown["mape_cost"] == "19.33%" and shown["mape_duration"] == "15.00%" and shown["mape_distance"] == "8.67%"
    assert shown["routes_today"] == "2"
    policies = re.findall(r'<table data-table="error-by-policy">.*?</table>', html, re.S)[0]
    rows = re.findall(r'<th scope="row">([^<]+)</th><td class="num">(\d+)</td><td class="num">([^<]+)</td>', policies)
    assert rows == [(OTHER_POLICY, "1", "30.00%"), (POLICY, "2", "14.00%")]
    cost = chart_on_page(html, "error-cost")
    assert {s["name"]: s["values"] for s in cost["series"]} == {
        OTHER_POLICY: [None, 30.0, None],
        POLICY: [20.0, None, 8.0],  # calibration at work: the error falls
    }


def test_errors_per_policy_add_up_to_the_api(dispatch_data):
    """Per policy the rows are the API's: with one policy the figures are the API's own, with
    several the outcomes add up and the API's error is their weighted mean."""
    today = dispatch_data["today"]
    start, end = selectors.parse_range((today - timedelta(days=6)).isoformat(), today.isoformat())
    metrics = selectors.logistics_metrics(start=start, end=end)
    by_policy = dashboard_selectors.error_by_policy(start=start, end=end)
    assert [p["policy"] for p in by_policy] == [OTHER_POLICY, POLICY]
    assert sum(p["outcomes"] for p in by_policy) == metrics["outcomes"] == 3
    for measure in ("cost", "duration", "distance"):
        weighted = sum(p["mape"][measure] * p["outcomes"] for p in by_policy) / metrics["outcomes"]
        assert weighted == pytest.approx(metrics["mape"][measure], abs=0.01)

    one_policy = selectors.parse_range(*[(today - timedelta(days=d)).isoformat() for d in (1, 1)])
    single = dashboard_selectors.error_by_policy(start=one_policy[0], end=one_policy[1])
    api = selectors.logistics_metrics(start=one_policy[0], end=one_policy[1])
    assert len(single) == 1 and single[0]["mape"] == api["mape"]
    assert single[0]["by_day"] == api["mape_by_day"]


def test_todays_routes_are_the_apis_routes_of_the_day(dispatcher, dispatch_data):
    html = dispatcher.get(PAGE).content.decode()
    link = html_lib.unescape(re.search(r'href="(/api/v1/logistics/routes/\?[^"]+)"', html).group(1))
    api = dispatcher.get(link)
    assert api.status_code == 200
    routes = [r for r in api.json()["results"] if r["status"] != "cancelled"]
    assert {r["reference"] for r in api.json()["results"]} == {"R-TODAY-1", "R-TODAY-2", "R-TODAY-CANCELLED"}
    stops = stops_on_page(html)
    assert stops == {r["reference"]: [s["city"] for s in r["stops"]] for r in routes}
    assert stops == {"R-TODAY-1": ["Nakuru", "Eldoret"], "R-TODAY-2": ["Kisumu"]}

    drawn = route_map_on_page(html)
    assert drawn["hubs"] == [{"name": "Nairobi", "lon": 36.851, "lat": -1.3067}]
    by_reference = {r["reference"]: r for r in routes}
    for line in drawn["routes"]:
        expected = by_reference[line["reference"]]
        assert line["vehicle"] == expected["vehicle_reference"]
        assert [(s["lon"], s["lat"], s["city"]) for s in line["stops"]] == [
            (s["longitude"], s["latitude"], s["city"]) for s in expected["stops"]
        ]


def test_no_route_today_says_so(dispatcher, dispatch_data):
    Route.objects.filter(planned_start__date__gte=dispatch_data["today"] - timedelta(days=1)).update(
        planned_start=Route.objects.order_by("planned_start").first().planned_start - timedelta(days=10)
    )
    html = dispatcher.get(PAGE).content.decode()
    assert "No route leaves today." in html and route_map_on_page(html) is None
    assert metrics_on_page(html)["routes_today"] == "0"


def test_an_empty_period_says_so(dispatcher, dispatch_data):
    html = dispatcher.get(PAGE, {"period": "custom", "from": "2000-01-01", "to": "2000-01-31"}).content.decode()
    shown = metrics_on_page(html)
    assert shown["orders"] == "0" and shown["mape_cost"] == "–" and shown["on_time_rate"] == "–"
    assert "No route has been completed in this period." in html
    assert "No order was created in this period." in html


def test_htmx_asks_for_the_part_that_changes(dispatcher, dispatch_data):
    response = dispatcher.get(PAGE, {"period": "today"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "HX-Request" in response["Vary"]
    assert html.lstrip().startswith('<div id="dispatch-body"') and "<html" not in html
    assert 'data-period="today" aria-current="true"' in html
    assert metrics_on_page(html)["deliveries"] == "0"  # no route was completed today
    for key in ("today", "7", "30", "90"):
        assert f'href="/dashboard/dispatch/?period={key}"' in html
    assert 'method="get" action="/dashboard/dispatch/"' in html


def test_a_bad_period_is_refused_with_a_message(dispatcher, dispatch_data):
    response = dispatcher.get(PAGE, {"period": "custom", "from": "2026-11-20", "to": "2026-11-01"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Must not be before the first day." in html and "data-metric" not in html


def test_charts_carry_their_table(dispatcher, dispatch_data):
    html = dispatcher.get(PAGE).content.decode()
    for key in ("orders-by-status", "fleet", "error-cost", "error-duration", "error-distance"):
        assert f'data-chart="chart-{key}-data" role="img" aria-label=' in html
    assert 'data-chart="route-map-data" role="img"' in html and 'data-table="routes-today"' in html
    # Days without an outcome of a policy show a dash in the table, not "None".
    assert "None" not in html


def test_the_page_takes_the_same_number_of_queries_whatever_the_data(signed_in, django_assert_num_queries):
    client = signed_in(roles.DISPATCHER)
    data = make_dispatch_data(extra_routes=1)
    client.get(PAGE)  # warms the session
    with django_assert_num_queries(12):
        small = client.get(PAGE, {"period": "90"})
    add_dispatch_rows(data, routes=15)  # routes today with stops, and completed ones with outcomes
    with django_assert_num_queries(12):
        large = client.get(PAGE, {"period": "90"})
    assert int(metrics_on_page(large.content.decode())["routes_today"]) == (
        int(metrics_on_page(small.content.decode())["routes_today"]) + 15
    )
