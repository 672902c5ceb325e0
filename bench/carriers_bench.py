"""Carrier sales desk timings on a real PostgreSQL database.

    createdb -h 127.0.0.1 -U postgres carriers_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/carriers_bench .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/carriers_bench .venv/bin/python bench/carriers_bench.py

Everything the benchmark writes (100,000 loads, 200,000 calls, 10,000 agreements) happens
inside one transaction that is rolled back at the end, so it can be re-run and leaves no
rows behind. It times load searches through the API, the call list and the sales metrics
endpoint, and one negotiation round that books a load.
"""

import os
import random
import sys
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from harness import Rollback  # noqa: E402
from harness import timed as _timed  # noqa: E402
from rest_framework.test import APIRequestFactory, force_authenticate  # noqa: E402

from carriers import services  # noqa: E402
from carriers.api.views import CallViewSet, CarrierSalesMetricsView, LoadViewSet  # noqa: E402
from carriers.choices import CallOutcome, EquipmentType, LoadStatus, Sentiment  # noqa: E402
from carriers.models import Call, Carrier, Load, Negotiation, Offer  # noqa: E402

LOADS = 100_000
CALLS = 200_000
AGREEMENTS = 10_000
ROUNDS = 7  # timed runs per measurement


def timed(label, func):
    _timed(label, func, rounds=ROUNDS)


CITIES = [
    ("Chicago", "IL"), ("Dallas", "TX"), ("Atlanta", "GA"), ("Los Angeles", "CA"), ("Houston", "TX"),
    ("Memphis", "TN"), ("Columbus", "OH"), ("Newark", "NJ"), ("Denver", "CO"), ("Kansas City", "MO"),
    ("Indianapolis", "IN"), ("Laredo", "TX"), ("Savannah", "GA"), ("Phoenix", "AZ"), ("Seattle", "WA"),
    ("Mobile", "AL"), ("Miami", "FL"), ("Charlotte", "NC"), ("Minneapolis", "MN"), ("Nashville", "TN"),
]  # fmt: skip


def populate():
    rng = random.Random(42)
    now = timezone.now()
    carriers = Carrier.objects.bulk_create(
        Carrier(
            mc_number=str(100000 + i),
            dot_number=2000000 + i,
            legal_name=f"Bench Carrier {i}",
            eligible=True,
            allowed_to_operate=True,
            status_code="A",
            verified_at=now,
            verification_source="fmcsa",
        )
        for i in range(2_000)
    )
    loads = []
    for i in range(LOADS):
        (oc, os_), (dc, ds) = rng.sample(CITIES, 2)
        miles = rng.randint(120, 2200)
        rate = Decimal(miles * rng.uniform(2.0, 3.5)).quantize(Decimal("1"))
        pickup = now + timedelta(hours=rng.randint(-24 * 60, 24 * 60))
        loads.append(
            Load(
                load_id=f"B-{i:06d}",
                origin_city=oc,
                origin_state=os_,
                destination_city=dc,
                destination_state=ds,
                pickup_datetime=pickup,
                delivery_datetime=pickup + timedelta(hours=miles // 45 + 4),
                equipment_type=rng.choice(EquipmentType.values),
                loadboard_rate=rate,
                max_rate=(rate * Decimal("1.1")).quantize(Decimal("1")),
                weight=rng.randint(5_000, 45_000),
                miles=miles,
                status=LoadStatus.AVAILABLE,
            )
        )
    Load.objects.bulk_create(loads, batch_size=5_000)
    booked = loads[:AGREEMENTS]
    negotiations, offers = [], []
    for load in booked:
        carrier = rng.choice(carriers)
        agreed = (load.loadboard_rate * Decimal(rng.choice(["1.00", "1.02", "1.05"]))).quantize(Decimal("0.01"))
        load.status, load.booked_carrier, load.agreed_rate, load.booked_at = LoadStatus.BOOKED, carrier, agreed, now
        negotiation = Negotiation(load=load, carrier=carrier, status="booked", rounds_used=1, agreed_rate=agreed)
        negotiations.append(negotiation)
        offers.append(Offer(negotiation=negotiation, round=1, amount=agreed, decision="accept", agreed_amount=agreed))
    Load.objects.bulk_update(booked, ["status", "booked_carrier", "agreed_rate", "booked_at"], batch_size=5_000)
    Negotiation.objects.bulk_create(negotiations, batch_size=5_000)
    Offer.objects.bulk_create(offers, batch_size=5_000)
    calls = []
    for _ in range(CALLS):
        load = loads[rng.randrange(LOADS)] if rng.random() < 0.7 else None
        calls.append(
            Call(
                external_id=f"bench-{uuid.uuid4()}",
                mc_number=str(100000 + rng.randrange(2_000)),
                load=load,
                started_at=now - timedelta(minutes=rng.randint(0, 60 * 24 * 90)),
                duration_seconds=rng.randint(30, 900),
                outcome=rng.choice(CallOutcome.values),
                sentiment=rng.choice(Sentiment.values),
            )
        )
    Call.objects.bulk_create(calls, batch_size=10_000)
    with connection.cursor() as cursor:
        for table in ("carriers_load", "carriers_call", "carriers_offer", "carriers_negotiation", "carriers_carrier"):
            cursor.execute(f"ANALYZE {table}")


def main():
    if connection.vendor != "postgresql":
        sys.exit("Run against PostgreSQL: set DATABASE_URL=postgres://...")
    factory = APIRequestFactory(SERVER_NAME="localhost")
    try:
        with transaction.atomic():
            started = time.perf_counter()
            populate()
            print(f"populated {LOADS:,} loads, {CALLS:,} calls, {AGREEMENTS:,} agreements "
                  f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
            user = get_user_model().objects.create(username=f"bench-{uuid.uuid4().hex[:8]}", is_superuser=True)
            load_list = LoadViewSet.as_view({"get": "list"})
            call_list = CallViewSet.as_view({"get": "list"})
            metrics = CarrierSalesMetricsView.as_view()

            def get(view, path, params):
                request = factory.get(path, params)
                force_authenticate(request, user=user)
                response = view(request)
                response.render()
                assert response.status_code == 200, response.data
                return response

            searches = [
                ("loads: origin_state=IL&status=available", {"origin_state": "IL", "status": "available"}),
                (
                    "loads: IL→TX dry van available, pickup window",
                    {
                        "origin_state": "IL",
                        "destination_state": "TX",
                        "equipment_type": "Dry Van",
                        "status": "available",
                        "pickup_from": timezone.now().isoformat(),
                        "pickup_to": (timezone.now() + timedelta(days=14)).isoformat(),
                    },
                ),
                ("loads: origin_city=Chicago, ordering=-loadboard_rate", {"origin_city": "Chicago", "ordering": "-loadboard_rate"}),
                ("loads: min_rate=3000&max_weight=20000", {"min_rate": "3000", "max_weight": "20000"}),
            ]  # fmt: skip
            for label, params in searches:
                timed(label, lambda p=params: get(load_list, "/api/v1/loads/", p))
            timed("calls: newest page", lambda: get(call_list, "/api/v1/calls/", {}))
            timed("calls: outcome=booked", lambda: get(call_list, "/api/v1/calls/", {"outcome": "booked"}))
            today = timezone.now().date()
            timed("metrics: all time (200k calls)", lambda: get(metrics, "/api/v1/metrics/carrier-sales/", {}))
            month = {"from": (today - timedelta(days=30)).isoformat(), "to": today.isoformat()}
            timed("metrics: last 30 days", lambda: get(metrics, "/api/v1/metrics/carrier-sales/", month))

            candidates = iter(
                Load.objects.filter(status=LoadStatus.AVAILABLE).values_list("load_id", "loadboard_rate")[:50]
            )

            def book_one():
                load_id, rate = next(candidates)
                result = services.offer_make(load_id=load_id, mc_number="100001", amount=rate)
                assert result.load.status == LoadStatus.BOOKED

            timed("offer_make: ask at posted rate → book (verification cached)", book_one)
            raise Rollback
    except Rollback:
        print("rolled back; no rows left behind")


if __name__ == "__main__":
    main()
