"""Domain errors with a machine-readable code; the web layer maps them to structured 4xx responses."""

from __future__ import annotations


class DomainError(Exception):
    status = 400

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    status = 422


class NotAuthenticated(DomainError):
    status = 401

    def __init__(self, message: str = "sign in first", code: str = "not_authenticated") -> None:
        super().__init__(code, message)


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404

    def __init__(self, what: str, ident: object | None = None) -> None:
        super().__init__(f"{what}_not_found", f"no such {what}" + (f": {ident}" if ident is not None else ""))


class Conflict(DomainError):
    status = 409


class TooLarge(DomainError):
    status = 413


class RateLimited(DomainError):
    status = 429

    def __init__(self, retry_after: float) -> None:
        super().__init__("rate_limited", f"too many writes; try again in {retry_after:.0f} s")
        self.retry_after = retry_after
