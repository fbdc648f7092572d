"""What every page form shares: putting a service's ValidationError where the user sees it."""

from __future__ import annotations

from django.core.exceptions import ValidationError


class ServiceErrorsMixin:
    """For a Django form: `add_service_errors(error)` puts a service's ValidationError({"field":
    ...}) next to the matching field; errors of other or hidden fields, and errors without a
    field, go to the top of the form."""

    def add_service_errors(self, error: ValidationError) -> None:
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, messages in error.message_dict.items():
            shown = field in self.fields and not self.fields[field].widget.is_hidden
            self.add_error(field if shown else None, messages)
