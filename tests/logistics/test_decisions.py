"""Planning decisions through the API: queued, proposed by the solver, committed atomically."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts import roles
from logistics import services
from logistics.choices import DecisionStatus, OrderStatus, RouteStatus, VehicleStatus
from logistics.models import Decision, Order, Route, RouteStop, Vehicle
from tests.logistics.conftest import BASE
from tests.logistics.factories import OrderFactory, VehicleFactory


def _propose(client, solve_now, **body):
    response = solve_now(client.post, f"{BASE}/decisions/", {"decision_type": "daily_route_planning", **body})
    assert response.status_code == 202, response.json()
    return response


def test_post_answers_202_solving_then_the_job_proposes_routes(dispatcher_client, pending_orders, fleet, solve_now):
    response = _propose(dispatcher_client, solve_now, time_limit_seconds=1)
    assert response.json()["status"] == "solving"
    detail = dispatcher_client.get(f"{BASE}/decisions/{response.json()['id']}/").json()
    assert detail["status"] == "proposed", detail["failure_reason"]
    assert detail["orders_routed"] == 5 and detail["left_out"] == []
    routes = detail["plan"]["routes"]
    assert routes and all(r["stops"] for r in routes)
    assert {s["order_id"] for r in routes for s in r["stops"]} == {str(o.pk) for o in pending_orders}
    for route in routes:
        assert route["distance_km"] == pytest.approx(
            sum(s["leg_km"] for s in route["stops"]) + route["return_leg_km"], abs=0.01
        )
        assert [s["estimated_arrival"] for s in route["stops"]] == sorted(
            s["estimated_arrival"] for s in route["stops"]
        )
    assert Decimal(detail["total_cost_kes"]) == pytest.approx(
        Decimal(str(sum(r["cost_kes"] for r in routes))), abs=Decimal("0.05")
    )
    assert detail["computation_ms"] >= 0 and detail["solver_stats"]["solver"].startswith("pyvrp-0.14")
    assert len(detail["state_snapshot"]["orders"]) == 5 and len(detail["state_snapshot"]["vehicles"]) == 2
    # Nothing about orders or vehicles changes before the commit.
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.PENDING}
    assert set(Vehicle.objects.values_list("status", flat=True)) == {VehicleStatus.AVAILABLE}
    assert not Route.objects.exists()


def test_commit_applies_the_plan_and_a_second_commit_is_refused(dispatcher_client, pending_orders, fleet, solve_now):
    decision_id = _propose(dispatcher_client, solve_now).json()["id"]
    response = dispatcher_client.post(f"{BASE}/decisions/{decision_id}/commit/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "committed" and body["committed_at"] and body["routes_created"]
    routes = Route.objects.filter(decision_id=decision_id)
    assert routes.count() == len(body["plan"]["routes"])
    assert RouteStop.objects.filter(route__in=routes).count() == 5
    for order in Order.objects.all():
        assert order.status == OrderStatus.ASSIGNED and order.route_id is not None
    used = set(routes.values_list("vehicle_id", flat=True))
    assert set(Vehicle.objects.filter(pk__in=used).values_list("status", flat=True)) == {VehicleStatus.LOADING}

    again = dispatcher_client.post(f"{BASE}/decisions/{decision_id}/commit/")
    assert again.status_code == 409 and again.json()["code"] == "already_committed"
    assert Route.objects.count() == routes.count()


def test_commit_refused_naming_what_changed_and_nothing_applied(dispatcher_client, pending_orders, fleet, solve_now):
    decision_id = _propose(dispatcher_client, solve_now).json()["id"]
    services.order_update(order=pending_orders[0], status=OrderStatus.CANCELLED)
    response = dispatcher_client.post(f"{BASE}/decisions/{decision_id}/commit/")
    assert response.status_code == 409
    assert response.json()["code"] == "state_changed"
    assert pending_orders[0].reference in response.json()["detail"] and "cancelled" in response.json()["detail"]
    assert not Route.objects.exists()
    assert Order.objects.filter(status=OrderStatus.ASSIGNED).count() == 0
    assert Decision.objects.get(pk=decision_id).status == DecisionStatus.PROPOSED


def test_commit_refused_when_a_vehicle_went_into_maintenance(dispatcher_client, pending_orders, fleet, solve_now):
    decision_id = _propose(dispatcher_client, solve_now).json()["id"]
    used = Decision.objects.get(pk=decision_id).plan["routes"][0]["vehicle_id"]
    vehicle = Vehicle.objects.get(pk=used)
    services.vehicle_update(vehicle=vehicle, status=VehicleStatus.MAINTENANCE)
    response = dispatcher_client.post(f"{BASE}/decisions/{decision_id}/commit/")
    assert response.status_code == 409
    assert f"vehicle {vehicle.reference} is now maintenance" in response.json()["detail"]
    assert not Route.objects.exists()


def test_a_decision_over_nothing_pending_is_a_clear_400(dispatcher_client, hub, fleet):
    response = dispatcher_client.post(f"{BASE}/decisions/", {"decision_type": "daily_route_planning"})
    assert response.status_code == 400
    assert response.json()["code"] == "nothing_to_plan"
    assert "no pending orders" in response.json()["fields"]["order_ids"][0]
    assert not Decision.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision_type": "weekly"}, "decision_type"),
        (
            {"decision_type": "daily_route_planning", "vehicle_ids": ["00000000-0000-0000-0000-000000000001"]},
            "vehicle_ids",
        ),
        ({"decision_type": "daily_route_planning", "order_ids": ["00000000-0000-0000-0000-000000000002"]}, "order_ids"),
        ({"decision_type": "daily_route_planning", "order_ids": ["not-a-uuid"]}, "order_ids"),
        ({"decision_type": "daily_route_planning", "time_limit_seconds": 0}, "time_limit_seconds"),
        ({"decision_type": "daily_route_planning", "solver": "mine"}, "solver"),
    ],
)
def test_bad_decision_requests_are_400_with_field_messages(dispatcher_client, pending_orders, fleet, body, field):
    response = dispatcher_client.post(f"{BASE}/decisions/", body)
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert not Decision.objects.exists()


def test_unknown_vehicle_id_is_named(dispatcher_client, pending_orders, fleet):
    missing = "00000000-0000-0000-0000-0000000000aa"
    response = dispatcher_client.post(
        f"{BASE}/decisions/", {"decision_type": "daily_route_planning", "vehicle_ids": [str(fleet[0].pk), missing]}
    )
    assert response.status_code == 400
    assert missing in response.json()["fields"]["vehicle_ids"][0]


def test_same_input_gives_the_same_plan(dispatcher_client, pending_orders, fleet, solve_now):
    first = _propose(dispatcher_client, solve_now).json()["id"]
    second = _propose(dispatcher_client, solve_now).json()["id"]
    a, b = Decision.objects.get(pk=first), Decision.objects.get(pk=second)
    assert a.plan["routes"] and a.plan == b.plan and a.total_cost_kes == b.total_cost_kes


def test_left_out_orders_carry_their_reason(dispatcher_client, hub, cost_model, solve_now):
    VehicleFactory(home_hub=hub, capacity_weight_t=Decimal("5"))
    heavy = OrderFactory(hub=hub, weight_t=Decimal("7"))
    food = OrderFactory(hub=hub, handling="fresh_food")
    late = OrderFactory(hub=hub, town="Kitale", window_end=timezone.now() + timedelta(hours=1))
    cheap = OrderFactory(hub=hub, town="Kitale", price_kes=Decimal("10"))
    OrderFactory(hub=hub)
    decision_id = _propose(dispatcher_client, solve_now).json()["id"]
    left = {item["order"]: item["reason"] for item in Decision.objects.get(pk=decision_id).left_out}
    assert left == {
        heavy.reference: "too_heavy",
        food.reference: "no_compatible_vehicle",
        late.reference: "window_unreachable",
        cheap.reference: "not_worth_a_vehicle",
    }


def test_replan_replaces_routes_not_started_with_new_orders(dispatcher_client, pending_orders, fleet, solve_now):
    first = _propose(dispatcher_client, solve_now).json()["id"]
    assert dispatcher_client.post(f"{BASE}/decisions/{first}/commit/").status_code == 200
    old_routes = set(Route.objects.values_list("pk", flat=True))
    newcomer = OrderFactory(hub=pending_orders[0].hub, town="Kisumu")
    response = _propose(dispatcher_client, solve_now, decision_type="replan")
    decision = Decision.objects.get(pk=response.json()["id"])
    assert decision.status == DecisionStatus.PROPOSED, decision.failure_reason
    assert len(decision.state_snapshot["replaced_routes"]) == len(old_routes)
    assert dispatcher_client.post(f"{BASE}/decisions/{decision.pk}/commit/").status_code == 200
    assert set(Route.objects.filter(pk__in=old_routes).values_list("status", flat=True)) == {RouteStatus.CANCELLED}
    live = Route.objects.filter(status=RouteStatus.PLANNED)
    routed = set(Order.objects.filter(route__in=live).values_list("pk", flat=True))
    assert routed == {o.pk for o in pending_orders} | {newcomer.pk}
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.ASSIGNED}


def test_failed_solve_records_the_reason(dispatcher_client, pending_orders, fleet, solve_now, monkeypatch):
    from logistics import planning

    def broken(*args, **kwargs):
        raise planning.PlanningError("The solver found no feasible plan within the time limit.")

    monkeypatch.setattr(planning, "plan", broken)
    decision_id = _propose(dispatcher_client, solve_now).json()["id"]
    detail = dispatcher_client.get(f"{BASE}/decisions/{decision_id}/").json()
    assert detail["status"] == "failed" and "no feasible plan" in detail["failure_reason"]
    response = dispatcher_client.post(f"{BASE}/decisions/{decision_id}/commit/")
    assert response.status_code == 409 and response.json()["code"] == "not_proposed"


def test_a_plan_failing_the_feasibility_check_is_not_stored(
    dispatcher_client, pending_orders, fleet, solve_now, monkeypatch, caplog
):
    from logistics import planning

    real = planning.interpret

    def hurried(*args, **kwargs):  # promises every stop five minutes before it can be reached
        routes = real(*args, **kwargs)
        for route in routes:
            for stop in route.stops:
                stop.arrival_min -= 5
        return routes

    monkeypatch.setattr(planning, "interpret", hurried)
    with caplog.at_level("ERROR", logger="logistics.services"):
        decision_id = _propose(dispatcher_client, solve_now).json()["id"]
    detail = dispatcher_client.get(f"{BASE}/decisions/{decision_id}/").json()
    assert detail["status"] == "failed" and detail["plan"] == {} and detail["orders_routed"] == 0
    assert detail["failure_reason"].startswith("The plan failed its feasibility check and was not stored:")
    assert "promised 5.00 min before it can be" in detail["failure_reason"]
    assert any(
        "failed its feasibility check" in r.getMessage() and decision_id in r.getMessage() for r in caplog.records
    )


@pytest.mark.parametrize("role", [roles.MEMBER, roles.SALES_AGENT])
def test_only_dispatch_roles_plan_and_commit(make_client, role, pending_orders, fleet):
    client = make_client(role)
    assert client.post(f"{BASE}/decisions/", {"decision_type": "daily_route_planning"}).status_code == 403
    assert client.get(f"{BASE}/decisions/").status_code == 403


def test_managers_plan_and_anonymous_is_401(make_client, api_client, pending_orders, fleet, solve_now):
    assert api_client.get(f"{BASE}/decisions/").status_code == 401
    assert _propose(make_client(roles.MANAGER), solve_now).status_code == 202


def test_decision_list_and_detail_query_counts_do_not_grow(
    dispatcher_client, pending_orders, fleet, solve_now, django_assert_num_queries
):
    ids = [_propose(dispatcher_client, solve_now).json()["id"] for _ in range(3)]
    dispatcher_client.post(f"{BASE}/decisions/{ids[0]}/commit/")
    # auth (token, user) + permissions (2) + count + page
    with django_assert_num_queries(6):
        response = dispatcher_client.get(f"{BASE}/decisions/")
    assert response.json()["count"] == 3
    # ... + the decision + its routes
    with django_assert_num_queries(6):
        assert dispatcher_client.get(f"{BASE}/decisions/{ids[0]}/").status_code == 200


def test_unknown_decisions_and_routes_are_404(dispatcher_client, hub):
    missing = "00000000-0000-0000-0000-0000000000ff"
    for path in (f"decisions/{missing}/", f"routes/{missing}/", f"outcomes/{missing}/", f"orders/{missing}/"):
        response = dispatcher_client.get(f"{BASE}/{path}")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert dispatcher_client.post(f"{BASE}/decisions/{missing}/commit/").status_code == 404


def test_decisions_and_routes_are_append_only(dispatcher_client, pending_orders, fleet, solve_now):
    decision_id = _propose(dispatcher_client, solve_now).json()["id"]
    assert dispatcher_client.delete(f"{BASE}/decisions/{decision_id}/").status_code == 405
    assert dispatcher_client.patch(f"{BASE}/decisions/{decision_id}/", {"status": "committed"}).status_code == 405
    dispatcher_client.post(f"{BASE}/decisions/{decision_id}/commit/")
    route = Route.objects.first()
    assert dispatcher_client.delete(f"{BASE}/routes/{route.pk}/").status_code == 405


def _last_editor(model, pk):
    entry = model.history.filter(id=pk).order_by("-history_date", "-history_id").first()
    return entry.history_user_id


def test_commit_start_and_complete_name_the_acting_user_on_every_row_they_touch(
    make_client, pending_orders, fleet, solve_now
):
    planner = make_client(roles.DISPATCHER)
    decision_id = _propose(planner, solve_now).json()["id"]
    committer = make_client(roles.DISPATCHER)
    assert committer.post(f"{BASE}/decisions/{decision_id}/commit/").status_code == 200
    route = Route.objects.filter(decision_id=decision_id).first()
    orders = list(Order.objects.filter(route__isnull=False))
    touched = [*orders, *Vehicle.objects.filter(pk__in=[r.vehicle_id for r in Route.objects.all()]), route]
    for row in touched:
        row.refresh_from_db()
        assert row.updated_by_id == committer.user.pk, row
        assert _last_editor(type(row), row.pk) == committer.user.pk, row

    driver = make_client(roles.DISPATCHER)
    assert driver.post(f"{BASE}/routes/{route.pk}/start/").status_code == 200
    for row in [*route.orders.all(), route.vehicle]:
        row.refresh_from_db()
        assert (row.updated_by_id, _last_editor(type(row), row.pk)) == (driver.user.pk, driver.user.pk), row
