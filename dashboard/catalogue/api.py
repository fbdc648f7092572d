"""API for the model catalogue: models, volume usage, syncs; admin model actions in manage_api."""

from ninja import Router

from dashboard.catalogue.manage_api import router as manage_router

router = Router(tags=["catalogue"])
router.add_router("", manage_router)
