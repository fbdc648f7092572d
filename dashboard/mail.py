"""Email from SwarmDeck (Django's mail API, EMAIL_* settings): best effort by design.

A message that cannot be delivered is logged and dropped, never raised into the task or request
that sent it; the caller learns whether it went.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail

logger = logging.getLogger(__name__)


def send_email(address: str, subject: str, text: str) -> bool:
    """Send `text` to `address` under "[SwarmDeck] subject"; False when it could not go."""
    try:
        send_mail(f"[SwarmDeck] {subject}", text, settings.DEFAULT_FROM_EMAIL, [address])
    except Exception:  # any backend's failure; a notice must not break the caller
        logger.warning("could not email %s", address, exc_info=True)
        return False
    return True
