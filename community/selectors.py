"""Reads of the community app that are more than a filter: the post list with search, the
reply tree, use cases near a point."""

import math

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Case, F, FloatField, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import ASin, Cos, Least, Power, Radians, Sin, Sqrt

from .choices import PostStatus, UseCaseStatus
from .models import Post, Reply, Tag, UseCase, Vote

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE_LATITUDE = 111.32
SEARCH_CONFIG = "english"


def post_search_vector():
    """Title words weigh more than body words. Kept identical to the expression of the GIN
    index (migration 0002) so PostgreSQL can use the index."""
    return SearchVector("title", weight="A", config=SEARCH_CONFIG) + SearchVector(
        "body", weight="B", config=SEARCH_CONFIG
    )


def post_queryset(*, user=None) -> QuerySet:
    """Posts with what their representation reads: author, tags, the best answer's id and the
    signed-in member's own vote, in one query plus one for tags."""
    best = Reply.all_objects.filter(post=OuterRef("pk"), is_best_answer=True).values("pk")[:1]
    queryset = (
        Post.all_objects.select_related("author", "created_by", "updated_by", "deleted_by")
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.only("id", "name")))
        .annotate(best_answer_id=Subquery(best))
    )
    if user is not None and user.is_authenticated:
        mine = Vote.objects.filter(post=OuterRef("pk"), user=user).values("value")[:1]
        queryset = queryset.annotate(my_vote=Subquery(mine))
    return queryset


def visible_posts(queryset: QuerySet, *, user, moderator: bool) -> QuerySet:
    """Drafts are seen by their author (and moderators) only."""
    if moderator:
        return queryset
    return queryset.filter(~Q(status=PostStatus.DRAFT) | Q(author=user))


def visible_use_cases(queryset: QuerySet, *, user, moderator: bool) -> QuerySet:
    """Draft use cases are seen by whoever wrote them (and moderators) only."""
    if moderator:
        return queryset
    return queryset.filter(~Q(status=UseCaseStatus.DRAFT) | Q(created_by=user))


def post_search(queryset: QuerySet, text: str) -> QuerySet:
    """Word search over title and body, best match first. PostgreSQL full-text search with
    web-search syntax ("quoted phrases", -exclusions, or); elsewhere a substring match."""
    text = text.strip()
    if not text:
        return queryset
    if connection.vendor == "postgresql":
        query = SearchQuery(text, search_type="websearch", config=SEARCH_CONFIG)
        vector = post_search_vector()
        return (
            queryset.annotate(search_rank=SearchRank(vector, query))
            .alias(search_document=vector)
            .filter(search_document=query)
            .order_by("-search_rank", "-last_activity_at")
        )
    words = text.split()
    condition = Q()
    for word in words:
        condition &= Q(title__icontains=word) | Q(body__icontains=word)
    # Without a ranking function, title matches come first, then latest activity.
    title_hit = Q()
    for word in words:
        title_hit &= Q(title__icontains=word)
    return (
        queryset.filter(condition)
        .alias(title_match=Case(When(title_hit, then=Value(1)), default=Value(0), output_field=IntegerField()))
        .order_by("-title_match", "-last_activity_at")
    )


def reply_tree(*, post: Post, user=None) -> list[tuple[Reply, int]]:
    """Every reply of ``post`` as ``(reply, depth)`` in tree order (each reply followed by its
    answers, oldest first), in one query whatever the size of the tree. A deleted reply is
    kept as a placeholder only while it has visible answers, so threads do not break."""
    replies = (
        Reply.all_objects.filter(post=post)
        .select_related("author", "created_by", "updated_by")
        .order_by("created_at", "id")
    )
    if user is not None and user.is_authenticated:
        mine = Vote.objects.filter(reply=OuterRef("pk"), user=user).values("value")[:1]
        replies = replies.annotate(my_vote=Subquery(mine))
    rows = list(replies)
    children: dict = {}
    for reply in rows:
        children.setdefault(reply.parent_id, []).append(reply)

    ordered: list[tuple[Reply, int]] = []
    by_pk = {reply.pk: reply for reply in rows}
    keep = set()
    for reply in rows:
        # A live reply keeps itself and the chain of replies it answers.
        node = reply if not reply.is_deleted else None
        while node is not None and node.pk not in keep:
            keep.add(node.pk)
            node = by_pk.get(node.parent_id)
    # Iterative depth-first walk: threads may be deeper than Python's recursion limit.
    stack = [(reply, 0) for reply in reversed(children.get(None, []))]
    while stack:
        reply, depth = stack.pop()
        if reply.pk not in keep:
            continue
        ordered.append((reply, depth))
        stack.extend((child, depth + 1) for child in reversed(children.get(reply.pk, [])))
    return ordered


# --- Use cases ------------------------------------------------------------------------------


def use_case_queryset() -> QuerySet:
    return UseCase.all_objects.select_related("created_by", "updated_by", "deleted_by", "detail").prefetch_related(
        Prefetch("tags", queryset=Tag.objects.only("id", "name"))
    )


def bounding_box(latitude: float, longitude: float, radius_km: float) -> dict:
    """Lookups that keep rows within the square around the circle (so the index on latitude
    and longitude narrows the rows the distance is computed for)."""
    delta_lat = radius_km / KM_PER_DEGREE_LATITUDE
    lookups = {"latitude__gte": latitude - delta_lat, "latitude__lte": latitude + delta_lat}
    cos_lat = math.cos(math.radians(latitude))
    if abs(latitude) + delta_lat < 89.0 and cos_lat > 0:
        delta_lon = radius_km / (KM_PER_DEGREE_LATITUDE * cos_lat)
        if longitude - delta_lon >= -180 and longitude + delta_lon <= 180:
            lookups.update(longitude__gte=longitude - delta_lon, longitude__lte=longitude + delta_lon)
        # Otherwise the box crosses the antimeridian: latitude alone still narrows the rows.
    return lookups


def haversine_km(latitude: float, longitude: float):
    """The great-circle distance in km from a point to each row, as an SQL expression that
    PostgreSQL and SQLite (Django's registered math functions) both evaluate."""
    lat1 = Radians(Value(latitude, output_field=FloatField()))
    lat2 = Radians(F("latitude"))
    half_dlat = (lat2 - lat1) / 2
    half_dlon = (Radians(F("longitude")) - Radians(Value(longitude, output_field=FloatField()))) / 2
    a = Power(Sin(half_dlat), 2) + Cos(lat1) * Cos(lat2) * Power(Sin(half_dlon), 2)
    # Rounding may push ``a`` a hair above 1 for antipodal points; asin is undefined there.
    return Value(2 * EARTH_RADIUS_KM) * ASin(Least(Sqrt(a), Value(1.0)))


def use_cases_near(queryset: QuerySet, *, latitude: float, longitude: float, radius_km: float) -> QuerySet:
    """Rows within ``radius_km`` of the point with their ``distance_km``, nearest first."""
    return (
        queryset.filter(**bounding_box(latitude, longitude, radius_km))
        .annotate(distance_km=haversine_km(latitude, longitude))
        .filter(distance_km__lte=radius_km)
        .order_by("distance_km", "title")
    )
