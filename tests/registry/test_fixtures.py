from graphlib import TopologicalSorter
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from registry.models import Dependency, Service

pytestmark = pytest.mark.django_db


def test_demo_fixture_loads_twice_and_is_a_realistic_acyclic_registry():
    call_command("loaddata", "registry_demo", verbosity=0)
    call_command("loaddata", "registry_demo", verbosity=0)
    services = list(Service.objects.all())
    assert len(services) >= 20
    names = {s.name for s in services}
    assert {"filesystem", "git", "github", "postgres", "sqlite", "redis", "brave-search", "fetch", "memory"} <= names
    assert sum(s.required for s in services) >= 3
    assert Service.tags.through.objects.exists()
    graph = {}
    for source, target in Dependency.objects.values_list("service__name", "depends_on__name"):
        graph.setdefault(source, set()).add(target)
    list(TopologicalSorter(graph).static_order())  # raises CycleError on a cycle
    for service in services:
        service.full_clean()  # semver, URLs, ports all valid
        if service.health_check_url:
            assert urlsplit(service.health_check_url).hostname in ("localhost", "127.0.0.1")
