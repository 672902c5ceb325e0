"""Each dashboard page costs a fixed number of queries on the demo data, however much data there is:
the selectors aggregate in the database rather than per row. (Timings belong in bench/, not in tests.)"""

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import roles

pytestmark = pytest.mark.django_db

PAGES = [
    "/",
    "/dashboard/sales/",
    "/dashboard/sales/?period=90",
    "/dashboard/registry/",
    "/dashboard/registry/services/mcp-gateway/",
    "/dashboard/dispatch/",
    "/dashboard/dispatch/?period=90",
    "/dashboard/community/",
    "/dashboard/community/?period=90",
]


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("url", PAGES)
def test_page_queries_do_not_grow_with_the_data(signed_in, url):
    call_command("seed_demo", verbosity=0)
    client = signed_in(roles.MANAGER)
    client.get(url)  # warm-up: session, runtime settings
    once = _queries(client, url)
    call_command("seed_desk_history", verbosity=0)
    assert _queries(client, url) <= once
