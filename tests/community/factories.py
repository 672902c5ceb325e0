import factory

from community import markdown
from community.choices import Category, PostStatus, Region
from community.models import Post, Reply, Subscription, Tag, UseCase
from tests.factories import UserFactory


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag-{n}")


class PostFactory(factory.django.DjangoModelFactory):
    """A published post; its author follows it, as ``post_create`` does."""

    class Meta:
        model = Post
        skip_postgeneration_save = True

    author = factory.SubFactory(UserFactory)
    created_by = factory.SelfAttribute("author")
    updated_by = factory.SelfAttribute("author")
    title = factory.Sequence(lambda n: f"How do you handle issue {n}?")
    body = "We see **intermittent** faults on the line."
    body_html = factory.LazyAttribute(lambda post: markdown.render(post.body))
    category = Category.MAINTENANCE
    status = PostStatus.PUBLISHED

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        if create and extracted:
            self.tags.set([TagFactory(name=name) for name in extracted])

    @factory.post_generation
    def follow(self, create, extracted, **kwargs):
        if create:
            Subscription.objects.get_or_create(user=self.author, post=self)


class ReplyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reply

    post = factory.SubFactory(PostFactory)
    author = factory.SubFactory(UserFactory)
    created_by = factory.SelfAttribute("author")
    updated_by = factory.SelfAttribute("author")
    body = "Check the grounding of the sensor cables."
    body_html = factory.LazyAttribute(lambda reply: markdown.render(reply.body))


class UseCaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UseCase
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Predictive maintenance {n}")
    created_by = factory.SubFactory(UserFactory)
    updated_by = factory.SelfAttribute("created_by")
    company = "Gulf Polymers"
    industry = "petrochemicals"
    region = Region.EASTERN
    city = "Jubail"
    latitude = 27.0046
    longitude = 49.6460
    summary = "Vibration sensors on compressors."
    technologies = ["vibration sensors", "OPC UA"]

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        if create and extracted:
            self.tags.set([TagFactory(name=name) for name in extracted])


VALID_DETAIL = {
    "challenge": {"summary": "Unplanned compressor stops.", "pain_points": ["3 stops a month"]},
    "solution": {"summary": "Wireless vibration sensors and an anomaly model.", "components": ["sensors", "model"]},
    "implementation_phases": [
        {"name": "Pilot", "duration_weeks": 8, "description": "Two compressors."},
        {"name": "Roll-out", "duration_weeks": 20},
    ],
    "results": {
        "roi_percent": 180,
        "payback_months": 9,
        "metrics": [{"name": "Unplanned stops per month", "before": 3, "after": 0.5}],
    },
}
