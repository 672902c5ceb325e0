from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from registry.choices import Priority, ServiceStatus
from registry.models import Dependency, Service, validate_semver

from .factories import ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "version",
    [
        "0.0.4",
        "1.2.3",
        "10.20.30",
        "1.1.2-prerelease+meta",
        "1.0.0-alpha.beta.1",
        "1.0.0-rc.1+build.1",
        "2.0.0+build.1848",
    ],
)
def test_semantic_versions_are_accepted(version):
    validate_semver(version)


@pytest.mark.parametrize(
    "version",
    ["1", "1.2", "1.2.3.4", "01.1.1", "1.02.3", "1.2.3-0123", "1.2.3-", "v1.2.3", "1.2.3\n", "١.٢.٣", " 1.2.3"],
)
def test_non_semantic_versions_are_refused(version):
    with pytest.raises(ValidationError):
        validate_semver(version)


def test_name_is_unique_among_live_services_and_reusable_after_soft_delete():
    first = ServiceFactory(name="filesystem")
    with pytest.raises(IntegrityError), transaction.atomic():
        ServiceFactory(name="filesystem")
    first.delete()
    second = ServiceFactory(name="filesystem")
    assert Service.objects.get(name="filesystem") == second
    assert Service.all_objects.filter(name="filesystem").count() == 2


def test_database_refuses_port_out_of_range():
    with pytest.raises(IntegrityError), transaction.atomic():
        ServiceFactory(port=70000)


def test_database_keeps_enabled_flag_and_disabled_status_in_step():
    with pytest.raises(IntegrityError), transaction.atomic():
        ServiceFactory(enabled=False, status=ServiceStatus.UNKNOWN)
    with pytest.raises(IntegrityError), transaction.atomic():
        ServiceFactory(enabled=True, status=ServiceStatus.DISABLED)


def test_database_refuses_self_dependency_and_duplicate_pairs():
    a, b = ServiceFactory(), ServiceFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Dependency.objects.create(service=a, depends_on=a)
    Dependency.objects.create(service=a, depends_on=b)
    with pytest.raises(IntegrityError), transaction.atomic():
        Dependency.objects.create(service=a, depends_on=b)


def test_derived_health_properties():
    service = ServiceFactory(success_count=3, failure_count=1, status=ServiceStatus.UNHEALTHY, required=True)
    assert service.health_score == 0.75
    assert not service.is_healthy
    assert service.is_critical
    assert ServiceFactory().health_score is None  # never checked
    assert not ServiceFactory(status=ServiceStatus.HEALTHY, priority=Priority.CRITICAL).is_critical
    assert ServiceFactory(status=ServiceStatus.UNKNOWN, priority=Priority.CRITICAL).is_critical
    assert not ServiceFactory(status=ServiceStatus.UNKNOWN, priority=Priority.LOW).is_critical


def test_staleness_counts_from_registration_until_the_first_heartbeat():
    now = timezone.now()
    fresh = ServiceFactory()
    old_never_seen = ServiceFactory(created_at=now - timedelta(hours=1))
    seen_recently = ServiceFactory(created_at=now - timedelta(hours=1), last_seen=now - timedelta(minutes=2))
    gone_quiet = ServiceFactory(created_at=now - timedelta(hours=1), last_seen=now - timedelta(minutes=30))
    disabled = ServiceFactory(created_at=now - timedelta(hours=1), enabled=False, status=ServiceStatus.DISABLED)
    assert [s.is_stale(10) for s in (fresh, old_never_seen, seen_recently, gone_quiet, disabled)] == [
        False,
        True,
        False,
        True,
        False,
    ]
    assert set(Service.objects.stale(10)) == {old_never_seen, gone_quiet}
    assert set(Service.objects.stale(60 * 2)) == set()
