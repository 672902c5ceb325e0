"""Dashboard data whose every free-text field holds markup, as a hostile user could store it.

``make_hostile_data`` builds the usual data of every page (the ``make_*_data`` makers), then writes
markup into each text a page, a chart, the admin or the API shows: services' display names,
descriptions and tags, hub names, vehicle references and types, route references, stop cities,
orders, customers, planning policies, carriers, load cities and notes, call summaries, forum
titles, tags, replies, reports and members' names. Rows are written with ``update()``, past the
validators, as old rows or another writer could have left them.
"""

from django.core.cache import cache

from accounts import roles
from carriers import rollups
from carriers.models import Call, Carrier, Load
from community import services as forum
from community.models import Post, Reply, Report
from community.models import Tag as ForumTag
from logistics.models import Customer, Decision, Hub, Order, Route, RouteStop, Vehicle
from registry.models import Service
from registry.models import Tag as ServiceTag
from tests.factories import UserFactory

from .conftest import make_community_data, make_dispatch_data, make_registry_data, make_sales_data

# Each sets window.__xss if it ever runs. IMG has no "/", so it fits in a URL path segment.
IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "<script>window.__xss=1</script>"
MARKUP = IMG + SCRIPT
# For fields of at most 32 characters (a load's ID).
SHORT = "<img src=x onerror=__xss=1>"
# What a page shows when it escapes the markup: the opening of the tag as text.
SHOWN = "<img src=x"


def _mark(queryset, **fields):
    """Write each of ``fields`` (name → function of the row's current value) into every row."""
    for row in queryset:
        values = {name: make(getattr(row, name)) for name, make in fields.items()}
        type(row)._base_manager.filter(pk=row.pk).update(**values)


def make_hostile_data():
    make_registry_data()
    dispatch = make_dispatch_data()
    community = make_community_data()
    sales = make_sales_data()

    # Registry: display names, descriptions, tags. A service's name cannot hold markup: the model
    # (validate_service_name) and the API's URLs take [a-z0-9_-] only, and pages link by name.
    _mark(Service.objects.all(), display_name=lambda _: f"{MARKUP} display", description=lambda _: MARKUP)
    service_tag = ServiceTag.objects.create(name=IMG)
    for service in Service.objects.all():
        service.tags.add(service_tag)

    # Dispatch: the hub, the fleet, routes and their stops, orders, customers, policies.
    _mark(Hub.objects.all(), name=lambda name: f"{name} {MARKUP}", address=lambda _: MARKUP)
    _mark(Vehicle.objects.all(), reference=lambda ref: f"{IMG}{ref}", vehicle_type=lambda _: SHORT)
    _mark(Route.objects.all(), reference=lambda ref: f"{IMG}{ref}"[:50])
    _mark(RouteStop.objects.all(), city=lambda city: f"{city} {MARKUP}")
    _mark(
        Order.objects.all(),
        reference=lambda ref: f"{IMG}{ref}",
        destination_city=lambda city: f"{city} {MARKUP}",
        destination_address=lambda _: MARKUP,
    )
    _mark(Customer.objects.all(), name=lambda _: MARKUP, address=lambda _: MARKUP)
    _mark(Decision.objects.all(), policy=lambda policy: f"{MARKUP} {policy[:20]}")
    decision = Decision.objects.order_by("pk").first()
    Decision.objects.filter(pk=decision.pk).update(
        plan={
            "routes": [
                {
                    "vehicle": MARKUP,
                    "stops": [{"order": MARKUP, "city": MARKUP, "estimated_arrival": "2025-01-01T09:00"}],
                    "distance_km": MARKUP,
                    "duration_min": 60,
                    "cost_kes": 100,
                }
            ]
        },
        left_out=[{"order": MARKUP, "reason_text": MARKUP}],
        failure_reason=MARKUP,
    )

    # Sales desk: carriers, loads (the top lanes come from the rollups, rebuilt below), calls.
    _mark(
        Carrier.objects.all(),
        legal_name=lambda name: f"{MARKUP} {name}",
        dba_name=lambda _: MARKUP,
        city=lambda _: MARKUP,
    )
    _mark(
        Load.objects.all(),
        load_id=lambda load_id: f"{SHORT}{load_id}",
        origin_city=lambda city: f"{city} {MARKUP}",
        destination_city=lambda city: f"{city} {MARKUP}",
        commodity_type=lambda _: MARKUP,
        notes=lambda _: MARKUP,
    )
    _mark(Call.objects.all(), summary=lambda _: MARKUP, transcript=lambda _: MARKUP)
    rollups.rebuild()

    # Community: titles, tags, replies, reports and the members' names.
    _mark(Post.all_objects.all(), title=lambda title: f"{MARKUP} {title}")
    forum_tag = ForumTag.objects.create(name=IMG)
    for post in Post.all_objects.all():
        post.tags.add(forum_tag)
    _mark(Reply.all_objects.all(), body=lambda _: MARKUP)
    _mark(Report.objects.all(), text=lambda _: MARKUP)
    for member in community["members"]:
        type(member).objects.filter(pk=member.pk).update(first_name=MARKUP, last_name=member.username)
    # A member whose username is markup (no full name, so the username is what pages show).
    writer = UserFactory(username=f"{IMG}member", first_name="", last_name="", roles=[roles.MEMBER])
    forum.post_create(author=writer, title=MARKUP, body="Markup in the title.", category="other")
    cache.clear()

    return {
        "today": sales["today"],
        "dispatch": dispatch,
        "community": community,
        "sales": sales,
        "decision": decision,  # its plan and left-out orders are markup too
    }


def hostile_service():
    """db: its graph has services on both sides (gateway, router and reporting need it; it needs disk)."""
    return Service.objects.get(name="db")
