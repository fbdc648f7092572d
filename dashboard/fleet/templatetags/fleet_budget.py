"""`{% team_budget_status as budget %}`: the current team's budget status for the banner
(templates/fleet/_budget_banner.html), so any page can include the banner without its view
knowing about budgets."""

from __future__ import annotations

from django import template

from dashboard.fleet.budgets import banner_status

register = template.Library()


@register.simple_tag(takes_context=True)
def team_budget_status(context):
    membership = context.get("membership")
    if membership is None:
        return None
    return banner_status(membership.team)
