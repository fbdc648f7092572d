"""Reads for generations: a team's history with filters, and what a user may see."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Prefetch, QuerySet

from dashboard.generations.models import GeneratedImage, Generation


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
        .prefetch_related(Prefetch("images", GeneratedImage.objects.order_by("index")))
    )


def images_visible_to(user) -> QuerySet[GeneratedImage]:
    return GeneratedImage.objects.filter(generation__team__memberships__user=user).select_related(
        "generation"
    )
