import pytest

from tests.logistics.factories import CostModelFactory, HubFactory, OrderFactory, VehicleFactory

BASE = "/api/v1/logistics"


@pytest.fixture
def hub(db):
    return HubFactory()


@pytest.fixture
def cost_model(db):
    return CostModelFactory()


@pytest.fixture
def pending_orders(hub, cost_model):
    return [OrderFactory(hub=hub, town=town) for town in ("Nakuru", "Nakuru", "Eldoret", "Kitale", "Naivasha")]


@pytest.fixture
def fleet(hub):
    return [VehicleFactory(home_hub=hub), VehicleFactory(home_hub=hub)]


@pytest.fixture
def solve_now(django_capture_on_commit_callbacks):
    """Run the queued background jobs (eager Celery, fired on commit) of the block."""

    def _run(callable_, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return callable_(*args, **kwargs)

    return _run
