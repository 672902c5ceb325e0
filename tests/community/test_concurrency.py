"""Members racing: real threads, each on its own connection. On PostgreSQL they run in
parallel against the row lock on the voted item and the unique view row; on SQLite the
IMMEDIATE transactions queue them. Either way every count lands exactly once."""

import pytest

from community import services
from community.models import Post, PostView, Reply, Vote
from tests.concurrency import errors_of, run_at_once
from tests.factories import UserFactory

from .factories import PostFactory, ReplyFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_racing_voters_leave_a_score_equal_to_the_sum_of_votes():
    post = PostFactory()
    voters = [UserFactory() for _ in range(8)]

    def voter(user, values):
        def work():
            for value in values:
                services.post_vote(post=post, user=user, value=value)

        return work

    # Each member flips their vote several times; the last value of each is what counts.
    plans = [[1, -1, 1] if i % 2 else [-1, 0, -1, 1, -1] for i in range(len(voters))]
    assert errors_of(run_at_once([voter(u, p) for u, p in zip(voters, plans, strict=True)])) == []
    post.refresh_from_db()
    votes = list(Vote.objects.filter(post=post).values_list("value", flat=True))
    assert len(votes) == len(voters)
    assert post.score == sum(votes) == sum(plan[-1] for plan in plans)


def test_one_member_voting_many_times_at_once_gets_one_vote():
    reply = ReplyFactory()
    user = UserFactory()
    results = run_at_once([lambda: services.reply_vote(reply=reply, user=user, value=1) for _ in range(8)])
    assert errors_of(results) == []
    assert Vote.objects.filter(reply=reply).count() == 1
    assert Reply.objects.get(pk=reply.pk).score == 1


def test_racing_views_count_once_per_member():
    post = PostFactory()
    readers = [UserFactory() for _ in range(4)]
    workers = [lambda user=user: services.post_view(post=post, user=user) for user in readers for _ in range(3)]
    results = run_at_once(workers)
    assert errors_of(results) == []
    assert sum(results) == len(readers)
    assert PostView.objects.filter(post=post).count() == len(readers)
    assert Post.objects.get(pk=post.pk).view_count == len(readers)
