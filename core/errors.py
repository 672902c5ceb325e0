"""Domain errors: what services raise when a request breaks a rule.

Services speak the domain, not HTTP. The API turns these into its error body in one place
(``core.api.exceptions``) and the admin into form or message errors (``core.admin``), so a
rule reached from the API, the admin, a management command or a background job fails the
same way everywhere.

    raise Invalid({"delivery_datetime": ["Delivery must be after pickup."]})
    raise Conflict(f"Load {load_id} is already booked.", code="load_not_available")
"""

from django.core.exceptions import ValidationError as DjangoValidationError


class DomainError(Exception):
    """Base class. ``message`` is for people; ``code`` is a stable slug for programs."""

    default_message = "The request could not be carried out."
    default_code = "error"

    def __init__(self, message: str | None = None, *, code: str | None = None):
        self.message = message or self.default_message
        self.code = code or self.default_code
        super().__init__(self.message)


class Invalid(DomainError):
    """Input breaks a rule. ``fields`` maps a field name to its messages; rules that concern
    the whole request go under ``non_field_errors``."""

    default_message = "Some fields are not valid."
    default_code = "invalid"

    def __init__(self, fields: dict | str | None = None, message: str | None = None, *, code: str | None = None):
        if isinstance(fields, str):
            fields = {"non_field_errors": [fields]}
        self.fields = {
            name: [str(message) for message in ([messages] if isinstance(messages, str) else messages)]
            for name, messages in (fields or {}).items()
        }
        super().__init__(message, code=code)

    @classmethod
    def from_django(cls, exc: DjangoValidationError) -> "Invalid":
        """The same errors as a Django ``ValidationError`` (from ``full_clean()`` or a validator)."""
        if hasattr(exc, "error_dict"):
            fields = {
                ("non_field_errors" if name == "__all__" else name): [m for error in errors for m in error.messages]
                for name, errors in exc.error_dict.items()
            }
        else:
            fields = {"non_field_errors": exc.messages}
        codes = [error.code for error in exc.error_list if error.code] if not hasattr(exc, "error_dict") else []
        return cls(fields, code=codes[0] if codes else None)


class NotFound(DomainError):
    default_message = "Not found."
    default_code = "not_found"


class Forbidden(DomainError):
    """A domain rule refuses this actor or this object (not a missing permission)."""

    default_message = "This is not allowed."
    default_code = "forbidden"


class Conflict(DomainError):
    """The request is valid but the current state of the data does not allow it."""

    default_message = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class Unavailable(DomainError):
    """Something this request depends on (an outside service, the database) cannot answer now."""

    default_message = "A service this request depends on is unavailable."
    default_code = "service_unavailable"
