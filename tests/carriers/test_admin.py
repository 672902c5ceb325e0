from decimal import Decimal

import pytest
from django.urls import reverse

from carriers.choices import LoadStatus
from carriers.models import Carrier, Load
from tests.carriers.conftest import docket_body, qc_carrier
from tests.carriers.factories import CallFactory, CarrierFactory, LoadFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_web(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def test_changelists_and_forms_render(admin_web):
    carrier = CarrierFactory(fmcsa_data=qc_carrier())
    load = LoadFactory()
    call = CallFactory(load=load, carrier=carrier)
    for name in ("carrier", "load", "call", "negotiation"):
        assert admin_web.get(reverse(f"admin:carriers_{name}_changelist")).status_code == 200
    page = admin_web.get(reverse("admin:carriers_carrier_change", args=[carrier.pk]))
    assert page.status_code == 200 and "GREAT LAKES HAULAGE LLC" in page.content.decode()
    assert admin_web.get(reverse("admin:carriers_load_change", args=[load.pk])).status_code == 200
    assert admin_web.get(reverse("admin:carriers_call_change", args=[call.pk])).status_code == 200
    filtered = admin_web.get(reverse("admin:carriers_load_changelist"), {"status__exact": "available", "q": "Chicago"})
    assert filtered.status_code == 200


def test_verify_again_now_action(admin_web, fmcsa):
    carrier = CarrierFactory(mc_number="123456", legal_name="OLD")
    fmcsa.on("123456", "json", (200, docket_body(qc_carrier(statusCode="I"))))
    response = admin_web.post(
        reverse("admin:carriers_carrier_changelist"),
        {"action": "verify_again_now", "_selected_action": [carrier.pk]},
        follow=True,
    )
    assert "not eligible (inactive)" in response.content.decode()
    carrier = Carrier.objects.get()
    assert carrier.legal_name == "GREAT LAKES HAULAGE LLC" and carrier.eligible is False
    assert fmcsa.count("123456") == 1


def test_cancel_action(admin_web):
    load = LoadFactory()
    delivered = LoadFactory(status=LoadStatus.DELIVERED, booked_carrier=CarrierFactory(), agreed_rate=Decimal("2000"))
    response = admin_web.post(
        reverse("admin:carriers_load_changelist"),
        {"action": "cancel_loads", "_selected_action": [load.pk, delivered.pk]},
        follow=True,
    )
    assert "Cancelled 1 load(s)." in response.content.decode()
    assert Load.objects.get(pk=load.pk).status == LoadStatus.CANCELLED
    assert Load.objects.get(pk=delivered.pk).status == LoadStatus.DELIVERED


def test_calls_are_read_only_in_the_admin(admin_web):
    call = CallFactory()
    assert admin_web.get(reverse("admin:carriers_call_add")).status_code == 403
    response = admin_web.post(reverse("admin:carriers_call_change", args=[call.pk]), {"summary": "edited"})
    assert response.status_code == 403


def test_admin_refuses_booking_by_hand(admin_web):
    load = LoadFactory()
    url = reverse("admin:carriers_load_change", args=[load.pk])
    form = admin_web.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(
        status="booked",
        pickup_datetime_0=load.pickup_datetime.date(),
        pickup_datetime_1="08:00:00",
        delivery_datetime_0=load.delivery_datetime.date(),
        delivery_datetime_1="23:00:00",
    )
    response = admin_web.post(url, data)
    assert response.status_code == 200 and "cannot be set to booked by hand" in response.content.decode()
    assert Load.objects.get(pk=load.pk).status == LoadStatus.AVAILABLE
