import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Sum

from community import markdown
from community.models import Post, Reply, UseCase, UseCaseDetail, Vote
from community.schemas import detail_errors

from .conftest import POSTS, USE_CASES

pytestmark = pytest.mark.django_db


def test_demo_fixture_loads_twice_into_a_consistent_forum():
    call_command("loaddata", "community_demo", verbosity=0)
    call_command("loaddata", "community_demo", verbosity=0)
    members = get_user_model().objects.filter(groups__name="Member")
    assert {m.location.split(",")[0] for m in members} == {"Riyadh", "Jeddah", "Dammam", "Jubail"}
    assert all(not m.has_usable_password() for m in members)
    posts = list(Post.objects.all())
    assert len(posts) == 6
    assert sum(p.has_best_answer for p in posts) >= 3
    for post in posts:
        replies = Reply.objects.filter(post=post)
        assert post.reply_count == replies.count()
        assert post.has_best_answer == replies.filter(is_best_answer=True).exists()
        assert post.score == (Vote.objects.filter(post=post).aggregate(s=Sum("value"))["s"] or 0)
        assert post.body_html == markdown.render(post.body)
        for reply in replies:
            assert reply.score == (Vote.objects.filter(reply=reply).aggregate(s=Sum("value"))["s"] or 0)
            assert reply.parent is None or reply.parent.post_id == post.pk
    assert Reply.objects.filter(parent__parent__isnull=False).exists()  # threads go deeper than one level
    use_cases = list(UseCase.objects.all())
    assert len(use_cases) >= 15
    for use_case in use_cases:
        use_case.full_clean()
    details = list(UseCaseDetail.objects.all())
    assert len(details) >= 3
    for detail in details:
        parts = {n: getattr(detail, n) for n in ("challenge", "solution", "implementation_phases", "results")}
        assert detail_errors(parts) == {}


def test_demo_data_through_the_api(member):
    call_command("loaddata", "community_demo", verbosity=0)
    listed = member.get(POSTS).data["results"]
    assert listed[0]["pinned"] is True
    thread = member.get(f"{POSTS}{listed[1]['id']}/").data
    assert thread["replies"]
    jubail = member.get(USE_CASES, {"near": "27.0046,49.6460", "radius_km": 75}).data["results"]
    assert jubail[0]["city"] == "Jubail"
    assert {item["city"] for item in jubail} == {"Jubail", "Ras Al-Khair"}
