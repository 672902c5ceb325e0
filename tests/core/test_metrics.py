"""/metrics: request latency by view and queries per request, for the scraper and staff only."""

import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def scraper(settings, client):
    settings.METRICS_TOKEN = "scrape-secret"
    return client


def sample(text: str, name: str, **labels) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_requests_are_measured_by_view_with_their_queries(scraper, sales_agent_client):
    before = scraper.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").content.decode()
    count_before = sample(before, "http_request_duration_seconds_count", view="api:load-list", status="200") or 0
    for _ in range(3):
        assert sales_agent_client.get("/api/v1/loads/").status_code == 200
    response = scraper.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert sample(text, "http_request_duration_seconds_count", view="api:load-list", status="200") == count_before + 3
    queries = sample(text, "http_request_db_queries_sum", view="api:load-list")
    assert queries is not None and queries > 0


def test_metrics_are_refused_to_everyone_else(scraper, sales_agent_client):
    assert scraper.get("/metrics").status_code == 403
    assert scraper.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert sales_agent_client.get("/metrics").status_code == 403  # an API token is not enough
    scraper.force_login(UserFactory(is_staff=True))
    assert scraper.get("/metrics").status_code == 200
