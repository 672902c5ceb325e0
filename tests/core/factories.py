import factory

from tests.core.testapp.models import Widget


class WidgetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Widget

    name = factory.Sequence(lambda n: f"widget {n}")
    size = 1
