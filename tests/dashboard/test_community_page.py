import html as html_lib
import re
from datetime import timedelta

import pytest
from django.test import Client

from accounts import roles
from community import dashboard_selectors

from .conftest import add_community_rows, chart_on_page, chart_values, make_community_data, metrics_on_page

pytestmark = pytest.mark.django_db

PAGE = "/dashboard/community/"
POSTS = "/api/v1/community/posts/"
REPORTS = "/api/v1/community/reports/"


def as_member(username):
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def listed(html, key):
    """Post ids of a list on the page, in page order."""
    block = re.search(rf'<ol class="post-list" data-list="{key}">(.*?)</ol>', html, re.S)
    return re.findall(r'data-post="([^"]+)"', block.group(1)) if block else []


def api_link(html, title_id):
    section = re.search(rf'<h2 id="{title_id}">.*?</section>', html, re.S).group(0)
    return html_lib.unescape(re.search(r'href="(/api/v1/[^"]+)"', section).group(1))


@pytest.mark.parametrize("username", ["alice", "bilal"])
def test_post_lists_equal_the_apis_for_the_same_member(community_data, username):
    """The API's post list with the page's parameters, as that member sees it (a draft only to its author)."""
    client = as_member(username)
    html = client.get(PAGE).content.decode()

    latest = client.get(api_link(html, "latest-title")).json()
    assert listed(html, "latest") == [post["id"] for post in latest["results"][:10]]
    draft = str(community_data["posts"]["draft"].pk)
    assert (draft in listed(html, "latest")) == (username == "alice")

    unanswered = client.get(api_link(html, "unanswered-title")).json()
    assert listed(html, "unanswered") == [post["id"] for post in unanswered["results"][:10]]
    assert metrics_on_page(html)["unanswered"] == str(unanswered["count"]) == "2"
    posts = community_data["posts"]
    assert listed(html, "unanswered") == [str(posts["old"].pk), str(posts["waiting"].pk)]  # longest waiting first


def test_open_reports_equal_the_moderators_queue(signed_in, community_data):
    client = signed_in(roles.MANAGER)
    html = client.get(PAGE).content.decode()
    api = client.get(api_link(html, "reports-title")).json()
    assert metrics_on_page(html)["open_reports"] == str(api["count"]) == "2"
    assert re.findall(r'data-report="([^"]+)"', html) == [report["id"] for report in api["results"]]
    assert "Reply on “OPC UA or MQTT for 40 PLCs?”" in html and "Rude tone" in html
    assert "Post “Vibration alarms on pump 3”" in html


def test_members_do_not_see_the_report_queue(community_data):
    html = as_member("carla").get(PAGE).content.decode()
    assert "open_reports" not in metrics_on_page(html) and 'data-table="open-reports"' not in html
    assert "Open reports" not in html


def test_numbers_of_the_period(signed_in, community_data):
    client = signed_in(roles.MEMBER)
    week = client.get(PAGE).content.decode()  # 7 days is the default
    shown = metrics_on_page(week)
    # Today's post, the one of three days ago and the closed one; not the draft, not the hidden one.
    assert shown["posts"] == "3" and shown["replies"] == "2" and shown["active_members"] == "3"
    members = re.findall(
        r'<tr data-member="([^"]+)"><td>[^<]+</td><td class="num">(\d+)</td><td class="num">(\d+)</td>'
        r'<td class="num">(\d+)</td>',
        week,
    )
    assert members == [("bilal", "1", "1", "1"), ("carla", "1", "1", "0"), ("alice", "1", "0", "0")]
    assert chart_values(chart_on_page(week, "posts-by-category"))["Automation"] == 1
    per_day = chart_on_page(week, "activity-per-day")
    today = community_data["today"].isoformat()
    assert per_day["categories"][-1] == today
    assert [s["values"][-1] for s in per_day["series"]] == [2, 2]  # posts and replies written today

    month = metrics_on_page(client.get(PAGE, {"period": "30"}).content.decode())
    assert month["posts"] == "4"  # and the one of twenty days ago
    day = metrics_on_page(client.get(PAGE, {"period": "today"}).content.decode())
    assert day["posts"] == "2" and day["unanswered"] == "2"  # unanswered is as of now, whatever the period


def test_activity_counts_only_live_content(community_data):
    today = community_data["today"]
    before = dashboard_selectors.activity(start=today, end=today)
    community_data["replies"][1].delete()
    after = dashboard_selectors.activity(start=today, end=today)
    assert after["replies"] == before["replies"] - 1
    members = dashboard_selectors.most_active_members(start=today, end=today)
    assert [(m.username, m.posts, m.replies) for m in members] == [
        ("alice", 1, 0),
        ("bilal", 0, 1),
        ("carla", 1, 0),  # her reply is gone, her closed post stays
    ]
    empty = dashboard_selectors.activity(start=today - timedelta(days=400), end=today - timedelta(days=399))
    assert empty["posts"] == empty["replies"] == empty["members"] == 0


def test_htmx_asks_for_the_part_that_changes(signed_in, community_data):
    client = signed_in(roles.MEMBER)
    response = client.get(PAGE, {"period": "30"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "HX-Request" in response["Vary"]
    assert html.lstrip().startswith('<div id="community-body"') and "<html" not in html
    assert 'data-period="30" aria-current="true"' in html
    assert metrics_on_page(html)["posts"] == "4"
    for key in ("today", "7", "30", "90"):
        assert f'href="/dashboard/community/?period={key}"' in html


def test_a_bad_period_is_refused_with_a_message(signed_in, community_data):
    response = signed_in(roles.MEMBER).get(PAGE, {"period": "365"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Select a valid choice." in html and "data-metric" not in html


def test_an_empty_forum_says_so(signed_in):
    html = signed_in(roles.MANAGER).get(PAGE).content.decode()
    assert "Nobody has posted yet." in html and "Every post has an answer." in html
    assert "No report is open." in html and "Nobody wrote in this period." in html


@pytest.mark.parametrize("role", [roles.MEMBER, roles.MANAGER])
def test_the_page_takes_the_same_number_of_queries_whatever_the_data(signed_in, django_assert_num_queries, role):
    client = signed_in(role)
    make_community_data()
    client.get(PAGE)  # warms the session
    count = 18 if role == roles.MANAGER else 16
    with django_assert_num_queries(count):
        small = client.get(PAGE)
    add_community_rows(members=12)  # members with posts, tags, replies and reports
    with django_assert_num_queries(count):
        large = client.get(PAGE)
    assert int(metrics_on_page(large.content.decode())["posts"]) == (
        int(metrics_on_page(small.content.decode())["posts"]) + 12
    )
