"""Catalogue pages: the team's models, a model's page, admin model management."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def model_list(request: HttpRequest) -> HttpResponse:
    return render(request, "catalogue/model_list.html", {})
