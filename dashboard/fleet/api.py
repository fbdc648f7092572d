"""API for the team's RunPod endpoints. Secrets go in, never out."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status

from dashboard.accounts.api import require_membership
from dashboard.fleet import selectors, services
from dashboard.fleet.health_api import router as health_router
from dashboard.fleet.models import OutputMode
from dashboard.fleet.warm_api import router as warm_router

router = Router(tags=["endpoints"])


class EndpointOut(Schema):
    id: int
    name: str
    endpoint_id: str
    api_base_url: str
    rest_base_url: str
    gpu_price_per_second: Decimal
    default_model: str
    known_models: list[str]
    output_mode: str
    is_default: bool
    volume_id: str
    volume_s3_endpoint_url: str
    volume_s3_region: str
    has_volume_access: bool


class EndpointIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    endpoint_id: str = Field(min_length=1, max_length=100)
    api_key: str = Field(min_length=1, max_length=500)
    api_base_url: str = Field("", max_length=200)
    rest_base_url: str = Field("", max_length=200)
    gpu_price_per_second: Decimal = Field(Decimal("0"), ge=0, max_digits=10, decimal_places=6)
    default_model: str = Field("", max_length=300)
    output_mode: OutputMode = OutputMode.AUTO
    is_default: bool = False
    volume_id: str = Field("", max_length=100)
    volume_s3_endpoint_url: str = Field("", max_length=200)
    volume_s3_region: str = Field("", max_length=40)
    volume_access_key: str = Field("", max_length=500)
    volume_secret_key: str = Field("", max_length=500)


class EndpointPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    endpoint_id: str | None = Field(None, min_length=1, max_length=100)
    api_key: str | None = Field(None, min_length=1, max_length=500)
    api_base_url: str | None = Field(None, max_length=200)
    rest_base_url: str | None = Field(None, max_length=200)
    gpu_price_per_second: Decimal | None = Field(None, ge=0, max_digits=10, decimal_places=6)
    default_model: str | None = Field(None, max_length=300)
    output_mode: OutputMode | None = None
    is_default: bool | None = None
    volume_id: str | None = Field(None, max_length=100)
    volume_s3_endpoint_url: str | None = Field(None, max_length=200)
    volume_s3_region: str | None = Field(None, max_length=40)
    volume_access_key: str | None = Field(None, max_length=500)
    volume_secret_key: str | None = Field(None, max_length=500)


class ConnectionOut(Schema):
    ok: bool
    message: str
    health: dict | None


@router.get("", response=list[EndpointOut])
def list_endpoints(request: HttpRequest):
    return selectors.endpoints_for_team(require_membership(request).team)


@router.post("", response={201: EndpointOut})
def create_endpoint(request: HttpRequest, payload: EndpointIn):
    membership = require_membership(request)
    endpoint = services.endpoint_create(team=membership.team, by=membership, **payload.dict())
    return Status(201, endpoint)


@router.patch("/{endpoint_pk}", response=EndpointOut)
def update_endpoint(request: HttpRequest, endpoint_pk: int, payload: EndpointPatch):
    membership = require_membership(request)
    endpoint = get_object_or_404(selectors.endpoints_for_team(membership.team), pk=endpoint_pk)
    changes = payload.dict(exclude_unset=True, exclude_none=True)
    return services.endpoint_update(endpoint=endpoint, by=membership, **changes)


@router.post("/{endpoint_pk}/test", response=ConnectionOut)
def test_connection(request: HttpRequest, endpoint_pk: int):
    membership = require_membership(request)
    if not membership.can_manage:
        raise PermissionDenied("Only the team's owners and admins test its endpoints.")
    endpoint = get_object_or_404(selectors.endpoints_for_team(membership.team), pk=endpoint_pk)
    report = services.endpoint_check_connection(endpoint=endpoint)
    return {"ok": report.ok, "message": report.message, "health": report.health}


@router.post("/{endpoint_pk}/refresh-models", response=list[str])
def refresh_models(request: HttpRequest, endpoint_pk: int):
    """Ask the worker which models the endpoint's volume holds (runs a list_models job)."""
    membership = require_membership(request)
    endpoint = get_object_or_404(selectors.endpoints_for_team(membership.team), pk=endpoint_pk)
    return services.endpoint_refresh_models(endpoint=endpoint, by=membership)


router.add_router("", warm_router)
router.add_router("", health_router)
