"""core.fastpaths.rows.RowValidator: for any row, the same outcome as the serializer's own ``is_valid()``
(accepted or refused, the same validated values, the same messages and codes), including when a
cell's outcome is reused from an earlier row."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from carriers.api.serializers import LoadImportSerializer
from core.api.serializers import InputSerializer
from core.fastpaths.rows import RowValidator

TEXT = st.text(max_size=12)
# Per column: values the rules accept, then values some rule refuses (or that are near misses).
GOOD = {
    "load_id": ["L-10042", "IMP-0000001", "a" * 32, "  L-7  "],
    "origin_city": ["Chicago", "Saint-Louis", "x" * 100],
    "origin_state": ["IL", "il", " tx "],
    "destination_city": ["Dallas", "   Dallas  "],
    "destination_state": ["TX", "ca"],
    "pickup_datetime": [
        "2026-12-01T08:00:00Z",
        "2026-12-01T08:00:00+02:00",
        "2026-12-01 08:00",
        "2026-12-01T08:00:00.123456-05:00",
    ],
    "delivery_datetime": ["2026-12-02T20:00:00Z", "2026-11-30T08:00:00Z", "2026-12-02T20:00"],
    "equipment_type": ["Reefer", "reefer", "Dry Van", "DRY-VAN", "dry_van", "van", "Step Deck", "flat"],
    "loadboard_rate": ["2100", "2100.00", "0.01", "1000000", " 2300 ", "2100.5"],
    "max_rate": ["2300.00", "0.01", "1000000.00"],
    "status": ["available", "booked"],
    "weight": ["40000", "1", "200000", " 42 ", "007"],
    "commodity_type": ["Produce", "", "line\nbreak"],
    "num_of_pieces": ["1", "1000000"],
    "miles": ["925", "10000"],
    "dimensions": ["48x40x60", ""],
    "notes": ["Fragile", "", "ü" * 300],
    "version": ["1", "2"],
}
BAD = {
    "load_id": ["a" * 33, "-L1", "L 1", "L\x001", "ü", "", "  "],
    "origin_city": ["  ", "x" * 101, "nul\x00", "\ud800"],
    "origin_state": ["ZZ", "Illinois", "  "],
    "destination_city": ["x" * 101, ""],
    "destination_state": ["XX", "T X"],
    "pickup_datetime": ["2026-12-01", "2026-13-01T08:00:00Z", "9999-12-31T23:59:59-01:00", "yesterday"],
    "delivery_datetime": ["2026-12-02T25:00", "0000-01-01T00:00:00Z"],
    "equipment_type": ["spaceship", "dry  vanx"],
    "loadboard_rate": ["0", "0.00", "-1", "1000000.01", "12.345", "1e3", "NaN", "abc"],
    "max_rate": ["99999999.99", "123456789", "Infinity", "abc"],
    "status": ["AVAILABLE", "gone"],
    "weight": ["0", "200001", "-5", "1.0", "4e4"],
    "commodity_type": ["x" * 101, "\x00"],
    "num_of_pieces": ["0", "1000001", "ten"],
    "miles": ["0", "10001", "9.5"],
    "dimensions": ["x" * 101],
    "notes": ["\x00"],
    "version": ["0", "v1"],
}
UNKNOWN = ["color", "Load_ID", "max rate"]
REQUIRED = {name for name, field in LoadImportSerializer().fields.items() if field.required}


@st.composite
def rows(draw):
    """Mostly rows the rules accept, with a cell or two refused or left out, and now and then any
    text, ``None`` or an unknown column."""
    row = {}
    wrong = draw(st.sets(st.sampled_from(sorted(GOOD)), max_size=2))
    for name in GOOD:
        kind = draw(st.sampled_from(["bad", "text", "null", "absent"])) if name in wrong else "good"
        if kind == "good" and name not in REQUIRED and draw(st.booleans()):
            kind = "absent"
        if kind in ("good", "bad"):
            row[name] = draw(st.sampled_from((GOOD if kind == "good" else BAD)[name]))
        elif kind == "text":
            row[name] = draw(TEXT)
        elif kind == "null":
            row[name] = None
    if draw(st.integers(0, 9)) == 0:
        row[draw(st.sampled_from(UNKNOWN))] = draw(TEXT)
    return row


def exactly(values):
    """Validated values as they are: equal Decimals or datetimes may still differ (places, zone)."""
    return [(name, type(value), repr(value)) for name, value in values.items()]


def assert_same_outcome(validator, row):
    serializer = type(validator.serializer)(data=row, context=validator.serializer.context)
    valid = serializer.is_valid()
    values, errors = validator.validate(row)
    if valid:
        assert errors is None, errors
        assert exactly(values) == exactly(serializer.validated_data)
    else:
        assert values is None
        assert errors == serializer.errors
        # ErrorDetail compares its code too, but say so: a message with another code is another refusal.
        assert {name: [e.code for e in errs] for name, errs in errors.items()} == {
            name: [e.code for e in errs] for name, errs in serializer.errors.items()
        }


# One validator for the whole run, so later rows reuse the outcomes of earlier ones.
LOADS = RowValidator(LoadImportSerializer())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(rows(), min_size=1, max_size=4))
def test_a_load_row_has_the_serializers_outcome(batch):
    assert LOADS.fast
    for row in batch:
        assert_same_outcome(LOADS, row)
        assert_same_outcome(LOADS, row)  # the second time from the reused outcomes


def test_a_good_row_is_validated_like_a_posted_load():
    values, errors = LOADS.validate(
        {
            "load_id": "L-1",
            "origin_city": "Chicago",
            "origin_state": "il",
            "destination_city": "Dallas",
            "destination_state": "TX",
            "pickup_datetime": "2026-12-01T08:00:00Z",
            "delivery_datetime": "2026-12-02T20:00:00Z",
            "equipment_type": "Dry Van",
            "loadboard_rate": "2100",
            "weight": "40000",
            "version": "3",
        }
    )
    assert errors is None
    assert values["origin_state"] == "IL" and values["equipment_type"] == "dry_van"
    assert values["loadboard_rate"] == Decimal("2100.00") and "version" not in values  # validate() drops it


def test_a_header_is_checked_once_with_the_serializers_messages():
    assert LOADS.check_columns(["load_id", "origin_city", "colour"]) == {
        "colour": ["This field is not known to this endpoint."],
        "origin_state": ["This field is required."],
        "destination_city": ["This field is required."],
        "destination_state": ["This field is required."],
        "pickup_datetime": ["This field is required."],
        "delivery_datetime": ["This field is required."],
        "equipment_type": ["This field is required."],
        "loadboard_rate": ["This field is required."],
        "weight": ["This field is required."],
    }
    assert LOADS.check_columns([*GOOD]) == {}


TOKEN = {"next": "t0"}


class Booking(InputSerializer):
    """Field methods, serializer validators, a callable default and a dotted source."""

    reference = serializers.CharField(max_length=8)
    seats = serializers.IntegerField(min_value=1, default=1)
    note = serializers.CharField(required=False, allow_null=True, source="extra.note")
    token = serializers.CharField(default=lambda: TOKEN["next"])  # not the same every time

    def validate_reference(self, value):
        if value.startswith("X"):
            raise serializers.ValidationError("References never start with X.")
        return value.upper()

    def validate(self, attrs):
        if attrs.get("seats", 0) > 4 and attrs["reference"].startswith("B"):
            raise serializers.ValidationError("B bookings seat at most 4.")
        return attrs


class Custom(Booking):
    def to_internal_value(self, data):  # machinery of its own: validated through the serializer
        return super().to_internal_value({**data, "reference": "R1"})


booking_rows = st.fixed_dictionaries(
    {},
    optional={
        "reference": st.sampled_from(["b1", "B1", "x1", "toolongref", "", None]) | TEXT,
        "seats": st.sampled_from(["1", "5", "0", "two", None]),
        "note": st.sampled_from(["hi", None, ""]),
        "token": st.sampled_from(["t", None]),
        "other": TEXT,
    },
)


@pytest.mark.parametrize("validator", [RowValidator(Booking()), RowValidator(Custom())], ids=["fast", "fallback"])
@settings(max_examples=150, deadline=None)
@given(row=booking_rows, token=st.sampled_from(["t1", "t2", "t3"]))
def test_other_serializers_have_their_own_outcome_too(validator, row, token):
    assert validator.fast is (type(validator.serializer) is Booking)
    TOKEN["next"] = token
    assert_same_outcome(validator, row)
    assert_same_outcome(validator, row)
