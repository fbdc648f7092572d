"""Team notices by optional email and webhook (the addresses in TeamBudget).

Best effort by design: a notice that cannot be delivered is logged and dropped, never raised into
the task or the request that sent it. The webhook URL may carry a token (Slack, Discord), so only
its host is ever logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from dashboard.fleet.models import TeamBudget
from dashboard.mail import send_email

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class Delivery:
    email: bool
    webhook: bool


def url_host(url: str) -> str:
    """What of a webhook URL may be shown or logged: its host."""
    return urlsplit(url).hostname or ""


def send_team_notice(team, *, subject: str, text: str, payload: dict) -> Delivery:
    """Email `text` to the team's alert address and POST `payload` (JSON) to its webhook."""
    budget = TeamBudget.objects.filter(team=team).first()
    if budget is None:
        return Delivery(email=False, webhook=False)
    emailed = send_email(budget.alert_email, subject, text) if budget.alert_email else False
    posted = _post(budget.alert_webhook_url, payload) if budget.alert_webhook_url else False
    return Delivery(email=emailed, webhook=posted)


def _post(url: str, payload: dict) -> bool:
    host = url_host(url)
    try:
        response = requests.post(
            url,
            json=payload,
            timeout=WEBHOOK_TIMEOUT_SECONDS,
            headers={"User-Agent": "SwarmDeck"},
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        logger.warning("notice webhook at %s failed: %s", host, exc.__class__.__name__)
        return False
    if response.status_code >= 300:
        logger.warning("notice webhook at %s answered %s", host, response.status_code)
        return False
    return True
