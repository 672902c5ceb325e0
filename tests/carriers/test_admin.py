from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import DELETION, LogEntry
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from carriers.choices import LoadStatus, NegotiationStatus
from carriers.models import Carrier, Load, Negotiation
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


def change_form_data(client, url, **overrides):
    """What the change form at ``url`` posts back unchanged, with ``overrides``."""
    form = client.get(url).context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, datetime):
            local = timezone.localtime(value)
            data[f"{name}_0"], data[f"{name}_1"] = local.date().isoformat(), local.time().isoformat()
        elif value is not None:
            data[name] = value
    data.update(overrides)
    return data


def booked_load_with_negotiations():
    winner, loser = CarrierFactory(), CarrierFactory()
    load = LoadFactory(
        status=LoadStatus.BOOKED, booked_carrier=winner, agreed_rate=Decimal("2100.00"), booked_at=timezone.now()
    )
    Negotiation.objects.create(load=load, carrier=winner, status=NegotiationStatus.BOOKED, agreed_rate=Decimal("2100"))
    Negotiation.objects.create(load=load, carrier=loser, status=NegotiationStatus.CLOSED)
    return load, winner, loser


def test_setting_a_booked_load_back_to_available_in_the_admin_does_what_the_api_does(admin_web):
    load, winner, loser = booked_load_with_negotiations()
    url = reverse("admin:carriers_load_change", args=[load.pk])
    response = admin_web.post(url, change_form_data(admin_web, url, status="available"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    load.refresh_from_db()
    assert (load.status, load.booked_carrier, load.agreed_rate, load.booked_at) == ("available", None, None, None)
    statuses = dict(Negotiation.objects.values_list("carrier__mc_number", "status"))
    assert statuses == {winner.mc_number: NegotiationStatus.CLOSED, loser.mc_number: NegotiationStatus.OPEN}
    # The reopened and closed negotiations carry the change in their history, by the operator.
    for negotiation in Negotiation.objects.all():
        latest = negotiation.history.first()
        assert (latest.status, latest.version) == (negotiation.status, 2)
        assert latest.history_user is not None and latest.history_user.is_superuser
        assert latest.history_change_reason == f"load {load.load_id} back on the board"


def test_a_refused_admin_edit_is_a_form_error_not_a_server_error(admin_web):
    load = LoadFactory()
    url = reverse("admin:carriers_load_change", args=[load.pk])
    data = change_form_data(admin_web, url, notes="moved")
    data["delivery_datetime_0"] = (load.pickup_datetime - timedelta(days=1)).date().isoformat()
    response = admin_web.post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["delivery_datetime"] == ["Delivery must be after pickup."]
    load.refresh_from_db()
    assert load.notes == "" and load.version == 1


def test_admin_add_goes_through_the_service(admin_web):
    taken = LoadFactory(load_id="L-1")
    url = reverse("admin:carriers_load_add")
    data = change_form_data(admin_web, reverse("admin:carriers_load_change", args=[taken.pk]))
    data.pop("expected_version", None)
    refused = admin_web.post(url, data)
    assert refused.status_code == 200 and "A load with this load ID already exists." in refused.content.decode()
    data["load_id"] = "L-2"
    assert admin_web.post(url, data).status_code == 302
    assert Load.objects.get(load_id="L-2").status == LoadStatus.AVAILABLE


def test_delete_selected_soft_deletes_loads_even_those_negotiations_reference(admin_web):
    carrier = CarrierFactory()
    quiet, negotiated = LoadFactory(), LoadFactory()
    Negotiation.objects.create(load=negotiated, carrier=carrier)
    booked = LoadFactory(status=LoadStatus.BOOKED, booked_carrier=carrier, agreed_rate=Decimal("2000"))
    changelist = reverse("admin:carriers_load_changelist")
    selected = [quiet.pk, negotiated.pk, booked.pk]
    confirm = admin_web.post(changelist, {"action": "delete_selected", ACTION_CHECKBOX_NAME: selected})
    assert confirm.status_code == 200 and not confirm.context.get("protected")
    response = admin_web.post(
        changelist, {"action": "delete_selected", ACTION_CHECKBOX_NAME: selected, "post": "yes"}, follow=True
    )
    assert response.status_code == 200
    assert set(Load.all_objects.filter(deleted_at__isnull=False).values_list("pk", flat=True)) == {
        quiet.pk,
        negotiated.pk,
    }
    # A load in progress is ended by a status change the carrier hears of, not by a delete.
    assert [str(m) for m in response.context["messages"]] == [
        f"{booked}: Load {booked.load_id} is booked; cancel it before deleting it.",
        "Deleted 2 loads.",
    ]
    assert LogEntry.objects.filter(action_flag=DELETION).count() == 2
    assert Negotiation.objects.get().load_id == negotiated.pk  # kept, with its load, for the record


def test_a_refused_single_delete_goes_back_to_the_row_with_the_reason(admin_web):
    booked = LoadFactory(status=LoadStatus.BOOKED, booked_carrier=CarrierFactory(), agreed_rate=Decimal("2000"))
    response = admin_web.post(reverse("admin:carriers_load_delete", args=[booked.pk]), {"post": "yes"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:carriers_load_change", args=[booked.pk])
    assert [str(m) for m in response.context["messages"]] == [
        f"{booked}: Load {booked.load_id} is booked; cancel it before deleting it."
    ]
    assert not Load.all_objects.get(pk=booked.pk).is_deleted
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()


def test_carrier_admin_writes_through_the_service(admin_web):
    carrier = CarrierFactory(mc_number="123456")
    url = reverse("admin:carriers_carrier_change", args=[carrier.pk])
    response = admin_web.post(url, change_form_data(admin_web, url, mc_number="MC-654321"))
    assert response.status_code == 302
    carrier.refresh_from_db()
    # Another docket number: FMCSA's answer about the old one no longer applies.
    assert (carrier.mc_number, carrier.eligible, carrier.verified_at) == ("654321", False, None)
    CarrierFactory(mc_number="111")
    refused = admin_web.post(url, change_form_data(admin_web, url, mc_number="MC 111"))
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["mc_number"] == ["A carrier with this MC number already exists."]


def test_staff_without_the_ceiling_permission_never_see_it_in_the_admin(admin_web):
    load = LoadFactory(loadboard_rate=Decimal("2000.00"), max_rate=Decimal("2222.22"))
    url = reverse("admin:carriers_load_change", args=[load.pk])
    assert admin_web.post(url, change_form_data(admin_web, url, max_rate="2345.67")).status_code == 302
    history = reverse("admin:carriers_load_history", args=[load.pk])
    entry = reverse("admin:carriers_load_simple_history", args=[load.pk, load.history.first().pk])
    changelist = reverse("admin:carriers_load_changelist")
    # Those who may see the ceiling see it, and its changes, everywhere.
    assert "2345.67" in admin_web.get(history).content.decode()
    assert admin_web.get(changelist, {"max_rate__gte": "2300"}).status_code == 200

    staff = Client()
    staff.force_login(UserFactory(is_staff=True, roles=[roles.DISPATCHER]))  # reads loads, not the ceiling
    for page in (url, history, entry, changelist):
        response = staff.get(page)
        assert response.status_code == 200, page
        assert "2222.22" not in response.content.decode() and "2345.67" not in response.content.decode(), page
    assert "Changes" in staff.get(history).content.decode()  # the entry is listed, without the ceiling's change
    # Filtering the change list on the ceiling (?max_rate__gte=…) would find it by counting matches.
    for lookup in ({"max_rate__gte": "2300"}, {"max_rate": "2345.67"}, {"max_rate__isnull": "true"}):
        assert staff.get(changelist, lookup).status_code == 400, lookup


def test_the_load_add_form_opens(admin_client):
    # A new load already has its UUID: the suggested ceiling must not take it for a saved one.
    response = admin_client.get("/admin/carriers/load/add/")
    assert response.status_code == 200
