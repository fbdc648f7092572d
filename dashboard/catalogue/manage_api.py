"""API for admin model actions: download, edit, rename, delete, audit log (admin tokens only)."""

from ninja import Router

router = Router(tags=["model management"])
