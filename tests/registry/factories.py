import factory

from registry.choices import BuildType, Priority, Protocol
from registry.models import Dependency, Service, Tag


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag-{n}")


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"service-{n}")
    display_name = factory.LazyAttribute(lambda s: s.name.replace("-", " ").title())
    description = factory.Faker("sentence")
    build_type = BuildType.OFFICIAL
    protocol = Protocol.STDIO
    priority = Priority.MEDIUM
    service_version = "1.0.0"

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        """``ServiceFactory(tags=["mcp", "search"])``."""
        if create and extracted:
            self.tags.set([TagFactory(name=name) for name in extracted])


class DependencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dependency

    service = factory.SubFactory(ServiceFactory)
    depends_on = factory.SubFactory(ServiceFactory)


def chain(*names):
    """Services ``names[0] → names[1] → ...`` (each needs the next); returns them by name."""
    services = {name: Service.objects.filter(name=name).first() or ServiceFactory(name=name) for name in names}
    for source, target in zip(names, names[1:], strict=False):
        DependencyFactory(service=services[source], depends_on=services[target])
    return services
