from datetime import time, timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from logistics.choices import Handling, OrderStatus, Priority, VehicleStatus
from logistics.models import CostModel, Customer, Hub, Order, Vehicle, VehicleTypeRate

NAIROBI = (-1.3067, 36.8510)
TOWNS = {
    "Nakuru": (-0.3031, 36.0800),
    "Eldoret": (0.5143, 35.2698),
    "Kitale": (1.0157, 35.0062),
    "Kisumu": (-0.0917, 34.7680),
    "Naivasha": (-0.7167, 36.4333),
}


class HubFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Hub
        django_get_or_create = ("name",)

    name = "Nairobi"
    latitude, longitude = NAIROBI
    opening_time = time(0, 0)
    closing_time = time(23, 59)


class CostModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CostModel

    average_speed_kmh = 50.0
    road_factor = 1.3
    default_service_minutes = 20
    fixed_cost_per_vehicle = Decimal("5000")
    fuel_cost_per_km = Decimal("100")
    driver_cost_per_hour = Decimal("500")


class RateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VehicleTypeRate

    cost_model = factory.SubFactory(CostModelFactory)
    vehicle_type = "10T"
    fuel_cost_per_km = Decimal("120")
    driver_cost_per_hour = Decimal("550")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    reference = factory.Sequence(lambda n: f"C-{n:04d}")
    name = factory.Faker("company")
    email = factory.Faker("email")


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    class Params:
        town = "Nakuru"

    reference = factory.Sequence(lambda n: f"ORD-{n:05d}")
    customer = factory.SubFactory(CustomerFactory)
    hub = factory.SubFactory(HubFactory)
    destination_city = factory.LazyAttribute(lambda o: o.town)
    destination_latitude = factory.LazyAttribute(lambda o: TOWNS[o.town][0])
    destination_longitude = factory.LazyAttribute(lambda o: TOWNS[o.town][1])
    weight_t = Decimal("1.000")
    volume_m3 = Decimal("3.000")
    window_start = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    window_end = factory.LazyFunction(lambda: timezone.now() + timedelta(days=3))
    priority = Priority.NORMAL
    handling = Handling.GENERAL
    price_kes = Decimal("80000")
    status = OrderStatus.PENDING


class VehicleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vehicle

    reference = factory.Sequence(lambda n: f"KCA {n:03d}B")
    vehicle_type = "10T"
    capacity_weight_t = Decimal("10")
    capacity_volume_m3 = Decimal("45")
    home_hub = factory.SubFactory(HubFactory)
    status = VehicleStatus.AVAILABLE
