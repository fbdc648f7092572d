"""Admin model management pages: download, edit metadata, rename, delete, audit log."""

urlpatterns: list = []
