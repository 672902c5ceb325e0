from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from carriers import services
from carriers.choices import CallOutcome, EquipmentType, Sentiment, USState, VerificationSource
from carriers.models import Call, Carrier, Load


def load_payload(load_id: str, **fields) -> dict:
    """The body a client POSTs to /api/v1/loads/: a reefer from Chicago to Dallas picked up in two days."""
    return {
        "load_id": load_id,
        "origin_city": "Chicago",
        "origin_state": "IL",
        "destination_city": "Dallas",
        "destination_state": "TX",
        "pickup_datetime": (timezone.now() + timedelta(days=2)).isoformat(),
        "delivery_datetime": (timezone.now() + timedelta(days=3)).isoformat(),
        "equipment_type": "reefer",
        "loadboard_rate": "2000.00",
        "weight": 30000,
        "miles": 1000,
        **fields,
    }


class CarrierFactory(factory.django.DjangoModelFactory):
    """An eligible carrier verified with FMCSA a moment ago."""

    class Meta:
        model = Carrier

    mc_number = factory.Sequence(lambda n: str(100000 + n))
    dot_number = factory.Sequence(lambda n: 3000000 + n)
    legal_name = factory.Faker("company")
    allowed_to_operate = True
    status_code = "A"
    eligible = True
    ineligibility_reasons = factory.LazyFunction(list)
    verified_at = factory.LazyFunction(timezone.now)
    verification_source = VerificationSource.FMCSA

    class Params:
        ineligible = factory.Trait(
            allowed_to_operate=False, eligible=False, ineligibility_reasons=["not_allowed_to_operate"]
        )


class LoadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Load

    load_id = factory.Sequence(lambda n: f"L-{20000 + n}")
    origin_city = "Chicago"
    origin_state = USState.IL
    destination_city = "Dallas"
    destination_state = USState.TX
    pickup_datetime = factory.LazyFunction(lambda: timezone.now() + timedelta(days=2))
    delivery_datetime = factory.LazyAttribute(lambda load: load.pickup_datetime + timedelta(hours=20))
    equipment_type = EquipmentType.DRY_VAN
    loadboard_rate = Decimal("2000.00")
    max_rate = factory.LazyAttribute(lambda load: (load.loadboard_rate * Decimal("1.1")).quantize(Decimal("0.01")))
    weight = 40000
    commodity_type = "Packaged consumer goods"
    miles = 925


class CallFactory(factory.django.DjangoModelFactory):
    """A logged call, written through ``services.call_log`` as the voice platform's are."""

    class Meta:
        model = Call

    external_id = factory.Sequence(lambda n: f"vc-{n:06d}")
    mc_number = "123456"
    started_at = factory.LazyFunction(timezone.now)
    duration_seconds = 240
    outcome = CallOutcome.BOOKED
    sentiment = Sentiment.POSITIVE
    summary = "Carrier verified and booked."

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        load = kwargs.pop("load", None)
        carrier = kwargs.pop("carrier", None)
        if carrier is not None:
            kwargs["mc_number"] = carrier.mc_number
        return services.call_log(load_id=load.load_id if load else "", **kwargs).call
