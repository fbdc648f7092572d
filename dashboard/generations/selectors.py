"""Reads for generations: a team's history with filters, and what a user may see."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Prefetch, QuerySet
from django.db.models.functions import Lower

from dashboard.generations.models import GeneratedImage, Generation, Tag


def generations_for_team(
    team,
    *,
    status: str | None = None,
    username: str | None = None,
    model: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Generation]:
    """The team's generations, newest first, with their images."""
    generations = Generation.objects.filter(team=team)
    if status:
        generations = generations.filter(status=status)
    if username:
        generations = generations.filter(user__username=username)
    if model:
        generations = generations.filter(model=model)
    if created_after:
        generations = generations.filter(created_at__gte=created_after)
    if created_before:
        generations = generations.filter(created_at__lt=created_before)
    return (
        generations.select_related("user", "endpoint")
        .prefetch_related(Prefetch("images", GeneratedImage.objects.order_by("index")))
        .order_by("-id")
    )


def generations_visible_to(user) -> QuerySet[Generation]:
    """Every generation of every team `user` belongs to."""
    return (
        Generation.objects.filter(team__memberships__user=user)
        .select_related("user", "endpoint", "team")
        .prefetch_related(Prefetch("images", GeneratedImage.objects.order_by("index")), "tags")
    )


def images_visible_to(user) -> QuerySet[GeneratedImage]:
    return GeneratedImage.objects.filter(generation__team__memberships__user=user).select_related(
        "generation"
    )


def tags_for_team(team, prefix: str = "", limit: int = 20) -> list[Tag]:
    """The team's tags starting with `prefix` (ignoring case), by name: for autocomplete."""
    tags = Tag.objects.filter(team=team)
    if prefix:
        tags = tags.filter(name__istartswith=prefix)
    return list(tags.order_by(Lower("name"), "name")[: max(0, limit)])


def images_for_team(team, image_ids) -> QuerySet[GeneratedImage]:
    """The team's images among `image_ids` (others are left out), with their generations, in
    history order (newest generation first, then by index)."""
    return (
        GeneratedImage.objects.filter(generation__team=team, pk__in=list(image_ids))
        .select_related("generation", "generation__user", "generation__endpoint")
        .order_by("-generation_id", "index")
    )


def generations_of_user(user) -> QuerySet[Generation]:
    """`user`'s own generations in the teams they still belong to (one membership per team, so
    the join adds no rows)."""
    return Generation.objects.filter(user=user, team__memberships__user=user)
