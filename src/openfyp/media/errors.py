"""Structured media errors: a machine-readable ``code``, a human ``message`` and the ``field`` at fault.

The media package stays independent of the web layer; ``status`` is the HTTP status a handler should
answer with, so mapping a :class:`MediaError` to a response needs no table of its own.
"""

from __future__ import annotations

# Codes for problems with what the user sent us: the upload is refused and nothing is stored.
UPLOAD_ERROR_CODES: dict[str, int] = {
    "empty_file": 422,
    "too_large": 413,
    "not_a_video": 415,
    "no_video_stream": 422,
    "no_audio_stream": 422,
    "corrupt": 422,
    "truncated": 422,
    "too_long": 422,
    "too_short": 422,
    "unsupported_codec": 415,
    "resolution_too_high": 422,
}

# Codes for problems on our side or with stored objects.
SERVER_ERROR_CODES: dict[str, int] = {
    "transcode_failed": 500,
    "ffmpeg_missing": 500,
    "media_not_found": 404,
    "invalid_key": 400,
    "storage_failed": 502,
}


class MediaError(Exception):
    def __init__(self, code: str, message: str, field: str | None = "file") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.field = field

    @property
    def status(self) -> int:
        return UPLOAD_ERROR_CODES.get(self.code) or SERVER_ERROR_CODES.get(self.code, 500)

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "field": self.field}


class MediaNotFound(MediaError):
    def __init__(self, key: str) -> None:
        super().__init__("media_not_found", f"no stored media object {key!r}", field="key")
        self.key = key


class InvalidMediaKey(MediaError):
    def __init__(self, key: str, reason: str) -> None:
        super().__init__("invalid_key", f"invalid media key {key!r}: {reason}", field="key")
        self.key = key
