"""Reads for endpoints."""

from __future__ import annotations

from django.db.models import QuerySet

from dashboard.fleet.models import RunPodEndpoint


def endpoints_for_team(team) -> QuerySet[RunPodEndpoint]:
    return RunPodEndpoint.objects.filter(team=team).order_by("-is_default", "name")


def default_endpoint(team) -> RunPodEndpoint | None:
    return endpoints_for_team(team).first()


def endpoint_for_team(team, endpoint_ref: int | str) -> RunPodEndpoint | None:
    """The team's endpoint by database id or by name; None otherwise (incl. other teams')."""
    endpoints = endpoints_for_team(team)
    if isinstance(endpoint_ref, int) or str(endpoint_ref).isdigit():
        return endpoints.filter(pk=int(endpoint_ref)).first()
    return endpoints.filter(name=endpoint_ref).first()
