import math

import pytest

from community.models import UseCase, UseCaseDetail
from community.selectors import EARTH_RADIUS_KM

from .conftest import USE_CASES
from .factories import VALID_DETAIL, UseCaseFactory

pytestmark = pytest.mark.django_db

RIYADH = (24.7136, 46.6753)


def point_km_north(origin, km):
    return origin[0] + math.degrees(km / EARTH_RADIUS_KM), origin[1]


def point_km_east(origin, km):
    lat = math.radians(origin[0])
    return origin[0], origin[1] + math.degrees(km / (EARTH_RADIUS_KM * math.cos(lat)))


def payload(**overrides):
    return {
        "title": "Smart metering in a cement plant",
        "company": "Yamama Cement",
        "industry": "cement",
        "region": "central",
        "city": "Riyadh",
        "latitude": 24.7136,
        "longitude": 46.6753,
        "summary": "Sub-metering kilns and mills.",
        "technologies": ["Modbus", "smart meters"],
        "tags": ["Energy", "metering"],
        "outcomes": "11% less electricity per tonne.",
        **overrides,
    }


def test_member_adds_a_use_case_with_its_detailed_version(member):
    response = member.post(USE_CASES, payload(detail=VALID_DETAIL))
    assert response.status_code == 201, response.data
    assert response.data["tags"] == ["energy", "metering"]
    assert response.data["detail"]["implementation_phases"][0]["name"] == "Pilot"
    assert response.data["distance_km"] is None
    use_case = UseCase.objects.get()
    assert use_case.created_by == member.user
    assert UseCaseDetail.objects.get(use_case=use_case).results["roi_percent"] == 180


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"latitude": 91}, "latitude"),
        ({"longitude": -180.5}, "longitude"),
        ({"latitude": "north"}, "latitude"),
        ({"region": "atlantis"}, "region"),
        ({"summary": "a\x00b"}, "summary"),
        ({"detail": {**VALID_DETAIL, "results": {"roi_percent": "lots"}}}, "detail.results"),
        (
            {"detail": {**VALID_DETAIL, "implementation_phases": [{"name": "x", "duration_weeks": 0}]}},
            "detail.implementation_phases",
        ),
        ({"detail": {"challenge": VALID_DETAIL["challenge"]}}, "detail.solution"),
        ({"detail": {**VALID_DETAIL, "budget": 1}}, "detail.budget"),
        ({"detail": {**VALID_DETAIL, "challenge": {"summary": "a\x00"}}}, "detail"),
        ({"detail": [1, 2]}, "detail"),
    ],
)
def test_bad_use_case_input_is_400_naming_the_field(member, overrides, field):
    response = member.post(USE_CASES, payload(**overrides))
    assert response.status_code == 400, response.data
    assert field in response.data["fields"], response.data
    assert not UseCase.objects.exists()


def test_author_or_moderator_edits_and_replaces_or_removes_the_detail(member, author, moderator):
    use_case = UseCaseFactory(created_by=author.user)
    url = f"{USE_CASES}{use_case.pk}/"
    assert member.patch(url, {"title": "mine now"}).status_code == 403
    response = author.patch(url, {"detail": VALID_DETAIL})
    assert response.status_code == 200, response.data
    new_results = {"metrics": [{"name": "OEE", "before": "61%", "after": "74%"}]}
    response = moderator.patch(url, {"detail": {"results": new_results}})
    assert response.status_code == 200, response.data
    assert response.data["detail"]["results"] == new_results
    assert response.data["detail"]["challenge"] == VALID_DETAIL["challenge"]
    assert author.patch(url, {"detail": None}).data["detail"] is None
    assert not UseCaseDetail.objects.exists()
    assert member.delete(url).status_code == 403
    assert author.delete(url).status_code == 204


def test_distance_search_includes_by_radius_and_sorts_nearest_first(member):
    thirty = UseCaseFactory(title="thirty km north", latitude=point_km_north(RIYADH, 30)[0], longitude=RIYADH[1])
    lat, lon = point_km_east(RIYADH, 10)
    ten = UseCaseFactory(title="ten km east", latitude=lat, longitude=lon)
    UseCaseFactory(title="Jeddah", latitude=21.4858, longitude=39.1925)
    near = f"{RIYADH[0]},{RIYADH[1]}"
    found = member.get(USE_CASES, {"near": near, "radius_km": 50}).data["results"]
    assert [item["title"] for item in found] == ["ten km east", "thirty km north"]
    assert found[0]["distance_km"] == pytest.approx(10, abs=0.05)
    assert found[1]["distance_km"] == pytest.approx(30, abs=0.05)
    found = member.get(USE_CASES, {"near": near, "radius_km": 20}).data["results"]
    assert [item["id"] for item in found] == [str(ten.pk)]
    assert str(thirty.pk) not in {item["id"] for item in found}
    far = member.get(USE_CASES, {"near": near, "radius_km": 1000}).data["results"]
    assert [item["title"] for item in far] == ["ten km east", "thirty km north", "Jeddah"]
    assert far[2]["distance_km"] == pytest.approx(846, rel=0.02)


def test_distance_search_near_the_antimeridian_and_poles(member):
    UseCaseFactory(title="Fiji east", latitude=-17.0, longitude=179.9)
    UseCaseFactory(title="Fiji west", latitude=-17.0, longitude=-179.9)
    found = member.get(USE_CASES, {"near": "-17,179.95", "radius_km": 50}).data["results"]
    assert sorted(item["title"] for item in found) == ["Fiji east", "Fiji west"]
    UseCaseFactory(title="Pole", latitude=89.99, longitude=10)
    assert [i["title"] for i in member.get(USE_CASES, {"near": "90,0", "radius_km": 5}).data["results"]] == ["Pole"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"near": "91,10"}, "near"),
        ({"near": "10"}, "near"),
        ({"near": "a,b"}, "near"),
        ({"near": "10,10", "radius_km": "0"}, "radius_km"),
        ({"near": "10,10", "radius_km": "far"}, "radius_km"),
        ({"radius_km": "10"}, "radius_km"),
        ({"region": "atlantis"}, "region"),
    ],
)
def test_bad_distance_parameters_are_400(member, params, field):
    response = member.get(USE_CASES, params)
    assert response.status_code == 400, response.data
    assert field in response.data["fields"]


def test_filters(member):
    UseCaseFactory(title="A", industry="cement", city="Riyadh", region="central", tags=["energy"])
    UseCaseFactory(title="B", industry="steel", city="Jubail", region="eastern", summary="Furnace heat recovery")
    titles = lambda **p: [i["title"] for i in member.get(USE_CASES, p).data["results"]]  # noqa: E731
    assert titles(industry="Cement") == ["A"]
    assert titles(city="jubail") == ["B"]
    assert titles(region="eastern") == ["B"]
    assert titles(tag="energy") == ["A"]
    assert titles(q="furnace") == ["B"]


def test_use_case_list_query_count_does_not_grow(member, django_assert_num_queries):
    def make(n):
        for _ in range(n):
            use_case = UseCaseFactory(tags=["energy", "iot"])
            UseCaseDetail.objects.create(use_case=use_case, **VALID_DETAIL)

    make(2)
    member.get(USE_CASES)
    with django_assert_num_queries(7) as small:  # token and permissions (4), count, page, tags
        member.get(USE_CASES, {"near": "27,49.6", "radius_km": 100})
    make(8)
    with django_assert_num_queries(len(small.captured_queries)):
        response = member.get(USE_CASES, {"near": "27,49.6", "radius_km": 100})
    assert response.data["count"] == 10
    assert all(item["detail"] for item in response.data["results"])
