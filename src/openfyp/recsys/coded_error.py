"""The shape every recsys error shares: a machine-readable ``code``, a message and optionally the field."""

from __future__ import annotations


class CodedError(ValueError):
    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "field": self.field}
