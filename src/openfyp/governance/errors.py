"""Errors of the governance layer. Each carries a machine-readable ``code`` and an HTTP status."""

from __future__ import annotations

from openfyp.platform.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound


class CrossRegionAccessRefused(Forbidden):
    """Data of another region was asked for; the request is refused and the attempt audit-logged."""

    def __init__(self, message: str, *, data_class: str | None = None, foreign_region: str | None = None) -> None:
        super().__init__("cross_region_refused", message)
        self.data_class = data_class
        self.foreign_region = foreign_region


class JustificationRequired(Forbidden):
    def __init__(self, what: str) -> None:
        super().__init__("justification_required",
                         f"staff access to {what} needs a recorded justification (X-Justification header)",
                         "justification")


class EventLogNotSettled(DomainError):
    """Events acknowledged before the request are still on their way into the events table (503: retry)."""

    status = 503

    def __init__(self) -> None:
        super().__init__("event_log_busy", "recent events are still being written; nothing was changed, try again "
                         "in a minute")


class ArtifactRefused(DomainError):
    """A model artifact that may not be served. ``code`` says why: unsigned, tampered, foreign, ..."""

    status = 409


class ReleaseRefused(DomainError):
    """A model or ranking config that lacks the operator's or the overseer's signature (or was rejected)."""

    status = 409


class SignatureInvalid(DomainError):
    status = 422

    def __init__(self, message: str, code: str = "signature_invalid") -> None:
        super().__init__(code, message, "signature")


class KeyMissing(DomainError):
    status = 409

    def __init__(self, message: str, code: str = "key_missing") -> None:
        super().__init__(code, message)


class ForeignTrainingData(DomainError):
    """Training was handed events of another region (or of an erased account); it refuses to start."""

    status = 409


class UnknownVersion(NotFound):
    def __init__(self, version: str) -> None:
        super().__init__("version", version)


class AuditLogBroken(DomainError):
    status = 409


__all__ = [
    "ArtifactRefused", "AuditLogBroken", "Conflict", "CrossRegionAccessRefused", "DomainError",
    "ForeignTrainingData", "InvalidInput", "JustificationRequired", "KeyMissing", "ReleaseRefused",
    "SignatureInvalid", "UnknownVersion",
]
