"""Domain errors that services raise and both the API and the pages translate for people.

Field problems use Django's ValidationError({"field": "message"}) and permission problems Django's
PermissionDenied; these add the two HTTP meanings Django has no exception for.
"""


class Conflict(Exception):
    """The request is valid but the object's current state does not allow it (HTTP 409)."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail
