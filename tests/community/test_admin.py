import json

import pytest
from django.urls import reverse

from community import services
from community.choices import PostStatus
from community.models import Post, Reply, Report, UseCase, UseCaseDetail

from .factories import VALID_DETAIL, PostFactory, ReplyFactory, UseCaseFactory

pytestmark = pytest.mark.django_db


def changelist(model):
    return reverse(f"admin:community_{model}_changelist")


def run_action(client, model, action, objects, query="", **extra):
    return client.post(
        changelist(model) + query,
        {"action": action, "_selected_action": [str(obj.pk) for obj in objects], **extra},
        follow=True,
    )


def test_post_changelist_with_filters_and_replies_inline(admin_client):
    reported = PostFactory(title="reported", category="ai")
    PostFactory(title="quiet", category="energy")
    services.report_create(reporter=PostFactory().author, reason="spam", post=reported)
    ReplyFactory(post=reported)
    response = admin_client.get(changelist("post"), {"reported": "yes"})
    assert [p.title for p in response.context["cl"].result_list] == ["reported"]
    response = admin_client.get(changelist("post"), {"category__exact": "energy"})
    assert [p.title for p in response.context["cl"].result_list] == ["quiet"]
    page = admin_client.get(reverse("admin:community_post_change", args=[reported.pk]))
    assert page.status_code == 200
    assert "Check the grounding" in page.content.decode()


def test_admin_actions_pin_close_hide_and_restore_go_through_the_services(admin_client):
    post = PostFactory()
    run_action(admin_client, "post", "pin", [post])
    run_action(admin_client, "post", "close", [post])
    post.refresh_from_db()
    assert post.pinned and post.status == PostStatus.CLOSED
    response = run_action(admin_client, "post", "hide", [post])
    assert "Give a reason" in response.content.decode()
    assert Post.objects.filter(pk=post.pk).exists()
    run_action(admin_client, "post", "hide", [post], reason="duplicate thread")
    hidden = Post.all_objects.get(pk=post.pk)
    assert hidden.deleted_reason == "Hidden by a moderator: duplicate thread"
    run_action(admin_client, "post", "restore_selected", [hidden], query="?deleted=yes")
    assert Post.objects.filter(pk=post.pk).exists()


def test_admin_post_edit_renders_markdown_and_keeps_counters(admin_client):
    post = PostFactory(body="old")
    Post.objects.filter(pk=post.pk).update(score=5)
    url = reverse("admin:community_post_change", args=[post.pk])
    response = admin_client.post(
        url,
        {
            "title": post.title,
            "body": "new **bold**",
            "category": post.category,
            "status": post.status,
            "expected_version": post.version,
            "replies-TOTAL_FORMS": "0",
            "replies-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    post.refresh_from_db()
    assert post.body_html == "<p>new <strong>bold</strong></p>\n"
    assert post.score == 5


def test_report_queue_actions(admin_client):
    reply = services.reply_create(post=PostFactory(), author=PostFactory().author, body="spam link")
    reporter = PostFactory().author
    report = services.report_create(reporter=reporter, reason="spam", reply=reply)
    run_action(admin_client, "report", "hide_content", [report], reason="advertising")
    report.refresh_from_db()
    assert report.status == "hidden" and report.resolution_note == "advertising"
    assert Reply.all_objects.get(pk=reply.pk).is_deleted
    other = services.report_create(reporter=reporter, reason="spam", post=reply.post)
    run_action(admin_client, "report", "dismiss", [other])
    assert Report.objects.get(pk=other.pk).status == "dismissed"


def test_use_case_admin_refuses_a_detail_that_breaks_its_schema(admin_client):
    use_case = UseCaseFactory()
    url = reverse("admin:community_usecase_change", args=[use_case.pk])
    data = {
        "title": use_case.title,
        "company": use_case.company,
        "industry": use_case.industry,
        "region": use_case.region,
        "city": use_case.city,
        "latitude": use_case.latitude,
        "longitude": use_case.longitude,
        "summary": use_case.summary,
        "technologies": json.dumps(use_case.technologies),
        "outcomes": "",
        "status": use_case.status,
        "expected_version": use_case.version,
        **{name: json.dumps(value) for name, value in VALID_DETAIL.items()},
    }
    bad = {**data, "implementation_phases": json.dumps([{"name": "x"}])}
    response = admin_client.post(url, bad)
    assert response.status_code == 200
    assert "duration_weeks" in response.content.decode()
    assert not UseCaseDetail.objects.exists()
    response = admin_client.post(url, data)
    assert response.status_code == 302
    assert UseCaseDetail.objects.get(use_case=use_case).results == VALID_DETAIL["results"]
    assert UseCase.objects.get(pk=use_case.pk).version == use_case.version  # only the detail changed
