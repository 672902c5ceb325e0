import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.db import connection

from community import markdown

from .conftest import POSTS
from .factories import PostFactory


def test_the_safety_check_itself_catches_dangerous_html():
    for dangerous in ('<a href="javascript:alert(1)">x</a>', '<img src="x" onerror="alert(1)">', "<script></script>"):
        with pytest.raises(AssertionError):
            assert_safe(dangerous)


PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "![img](javascript:alert(1))",
    "![img](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<a href="javascript:alert(1)">x</a>',
    "<svg/onload=alert(1)>",
    '<iframe src="https://evil.example"></iframe>',
    "<div style=\"background:url('javascript:alert(1)')\">x</div>",
    '[x](https://ok.example "title" onmouseover="alert(1)")',
    "<details open ontoggle=alert(1)>",
    "`<script>`\n\n```html\n<script>alert(1)</script>\n```",
]


class _Elements(HTMLParser):
    """Every element and attribute a browser would build from the HTML."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


def assert_safe(html: str):
    parser = _Elements()
    parser.feed(html)
    for tag, attributes in parser.elements:
        assert tag in markdown.ALLOWED_TAGS, html
        for name, value in attributes.items():
            assert not name.startswith("on"), html
            if name in ("href", "src"):
                scheme = urlsplit(value.strip()).scheme.lower()
                assert scheme in ("", "http", "https", "mailto"), html
            if name == "style":
                assert re.fullmatch(r"text-align:\s*(left|right|center)", value), html


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_payloads_render_harmless(payload):
    html = markdown.render(payload)
    assert_safe(html)
    assert "<script" not in html.lower()


def test_markdown_features_survive_sanitising():
    html = markdown.render("# Title\n\n- **bold** and [link](https://example.com)\n\n| a |\n|:-:|\n| 1 |\n\n`code`")
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html
    assert '<a href="https://example.com" rel="nofollow noopener noreferrer">link</a>' in html
    assert '<th style="text-align:center">a</th>' in html
    assert "<code>code</code>" in html


@pytest.mark.django_db
@pytest.mark.parametrize("payload", PAYLOADS[:6])
def test_api_returns_the_markdown_and_sanitised_html(member, payload):
    response = member.post(POSTS, {"title": "xss", "body": payload})
    assert response.status_code == 201
    assert response.data["body"] == payload
    assert_safe(response.data["body_html"])
    reply = member.post("/api/v1/community/replies/", {"post": response.data["id"], "body": payload})
    assert reply.data["body"] == payload
    assert_safe(reply.data["body_html"])


# --- Search ---------------------------------------------------------------------------------


def titles(client, **params):
    response = client.get(POSTS, params)
    assert response.status_code == 200, response.data
    return [post["title"] for post in response.data["results"]]


@pytest.mark.django_db
def test_search_finds_a_word_in_a_body_and_ranks_title_matches_first(member):
    PostFactory(title="Compressor maintenance schedule", body="We service compressors every quarter.")
    PostFactory(title="Energy dashboard", body="Our compressor uses most of the plant's energy.")
    PostFactory(title="Unrelated", body="PLC firmware upgrades.", pinned=True)
    found = titles(member, q="compressor")
    assert found == ["Compressor maintenance schedule", "Energy dashboard"]
    assert titles(member, q="firmware") == ["Unrelated"]
    assert titles(member, q="turbine") == []


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="word stemming and web-search syntax need PostgreSQL")
def test_postgres_search_matches_words_not_substrings_and_understands_websearch_syntax(member):
    PostFactory(title="Vibration monitoring", body="Sensors on pumps detected bearing wear early.")
    PostFactory(title="Pumping station SCADA", body="Modbus gateways and alarms.")
    PostFactory(title="Catalogue", body="We sell pumpkins.")
    assert titles(member, q="pump") == ["Pumping station SCADA", "Vibration monitoring"]
    assert titles(member, q='"bearing wear"') == ["Vibration monitoring"]
    assert titles(member, q="pump -modbus") == ["Vibration monitoring"]
    assert titles(member, q="sensor or gateway") != []


@pytest.mark.django_db
def test_search_rejects_nul(member):
    assert member.get(POSTS, {"q": "a\x00b"}).status_code == 400


@pytest.mark.django_db
def test_search_index_exists_only_on_postgresql():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'community_post_search_gin'")
            (definition,) = cursor.fetchone()
            assert "USING gin" in definition and "setweight" in definition
        else:
            names = set(connection.introspection.get_constraints(cursor, "community_post"))
            assert "community_post_search_gin" not in names
