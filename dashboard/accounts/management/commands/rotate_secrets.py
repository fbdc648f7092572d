"""`manage.py rotate_secrets`: re-encrypt every stored secret under the newest key.

Rotation: prepend a new key to SECRET_ENCRYPTION_KEY (`new,old`), deploy, run this, then drop
the old key. Secrets are the model fields named `*_encrypted` in SwarmDeck's apps.
"""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from dashboard import crypto

APPS = ("accounts", "fleet", "generations", "catalogue")


def encrypted_fields() -> list[tuple[type, list[str]]]:
    found = []
    for label in APPS:
        for model in apps.get_app_config(label).get_models():
            names = [f.name for f in model._meta.concrete_fields if f.name.endswith("_encrypted")]
            if names:
                found.append((model, names))
    return found


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the first key of SECRET_ENCRYPTION_KEY."

    def handle(self, *args, **options) -> None:
        for model, names in encrypted_fields():
            count = 0
            with transaction.atomic():
                for row in model.objects.select_for_update().only("pk", *names).order_by("pk"):
                    values = {name: crypto.rotate(getattr(row, name)) for name in names}
                    model.objects.filter(pk=row.pk).update(**values)
                    count += 1
            fields = ", ".join(names)
            self.stdout.write(f"{model._meta.label}: {count} rows re-encrypted ({fields})")
