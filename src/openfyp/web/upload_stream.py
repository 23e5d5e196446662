"""Receiving a multipart upload as a stream: the file goes to disk chunk by chunk, never whole into memory.

The byte limit is enforced while the body arrives (Content-Length first when the client sent one), and
the first bytes of the file are sniffed as soon as they are in, so a 2 GB mistake or a renamed PNG is
refused after a few kilobytes instead of after the whole transfer.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from openfyp.platform.errors import InvalidInput, TooLarge
from openfyp.web.errors import ApiError

HEAD_BYTES = 4096
MAX_FIELD_BYTES = 16 * 1024
MAX_PARTS = 16
# Room for the text fields and the multipart framing on top of the file itself.
ENVELOPE_BYTES = MAX_PARTS * (MAX_FIELD_BYTES + 1024)


@dataclass
class StreamedUpload:
    """The received form: small text fields in memory, the file in a temporary file the caller discards."""

    fields: dict[str, str] = field(default_factory=dict)
    file_path: Path | None = None
    file_size: int = 0
    filename: str | None = None

    def discard(self) -> None:
        if self.file_path is not None:
            self.file_path.unlink(missing_ok=True)
            self.file_path = None


class _FormReceiver:
    """Callbacks for python-multipart's parser; the first problem found is kept and stops all writing."""

    def __init__(self, *, file_field: str, text_fields: Collection[str], max_file_bytes: int, scratch: Path,
                 sniff: Callable[[bytes], None]) -> None:
        self.file_field, self.text_fields = file_field, frozenset(text_fields)
        self.max_file_bytes, self.scratch, self.sniff = max_file_bytes, scratch, sniff
        self.upload = StreamedUpload()
        self.error: Exception | None = None
        self.finished = False
        self._parts = 0
        # Raw bytes: python-multipart parses header values as latin-1, and a str holding any character above
        # U+00FF (a UTF-8 field name decoded as UTF-8) would fail its re-encoding.
        self._headers: dict[str, bytes] = {}
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._target: str | None = None  # "file", a text field's name, or None to skip the part
        self._text = bytearray()
        self._file = None
        self._head = bytearray()
        self._sniffed = False

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin, "on_header_field": self._header_field,
            "on_header_value": self._header_value_data, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_part_end": self._part_end, "on_end": self._end,
        }

    def fail(self, error: Exception) -> None:
        if self.error is None:
            self.error = error
        self.close_file()

    def close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            self.fail(ApiError(400, "malformed_multipart", f"the form has more than {MAX_PARTS} parts"))
        self._headers, self._target = {}, None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        name = self._header_name.decode("latin-1").strip().lower()
        self._headers[name] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        if self.error is not None:
            return
        _, options = parse_options_header(self._headers.get("content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name == self.file_field:
            if self.upload.file_path is not None:
                self.fail(InvalidInput("too_many_files", "send exactly one file per upload", self.file_field))
                return
            self._target = "file"
            filename = options.get(b"filename")
            self.upload.filename = filename.decode("utf-8", "replace") if filename is not None else None
            handle, path = tempfile.mkstemp(prefix="upload-", dir=self.scratch)
            self.upload.file_path = Path(path)
            self._file = os.fdopen(handle, "wb")
        elif name in self.text_fields:
            self._target, self._text = name, bytearray()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self.error is not None or self._target is None:
            return
        chunk = data[start:end]
        if self._target != "file":
            self._text += chunk
            if len(self._text) > MAX_FIELD_BYTES:
                self.fail(InvalidInput("field_too_long", f"{self._target} is too long", self._target))
            return
        self.upload.file_size += len(chunk)
        if self.upload.file_size > self.max_file_bytes:
            self.fail(TooLarge("too_large", f"the file is larger than the limit of {self.max_file_bytes} bytes",
                               self.file_field))
            return
        if not self._sniffed:
            self._head += chunk[: HEAD_BYTES - len(self._head)]
            if len(self._head) >= HEAD_BYTES:
                self._sniff()
                if self.error is not None:
                    return
        self._file.write(chunk)

    def _sniff(self) -> None:
        self._sniffed = True
        try:
            self.sniff(bytes(self._head))
        except Exception as error:  # the sniffer's own error type says what the file is
            self.fail(error)

    def _part_end(self) -> None:
        if self.error is not None:
            return
        if self._target == "file":
            if not self._sniffed and self._head:
                self._sniff()
            self.close_file()
        elif self._target is not None:
            try:
                self.upload.fields[self._target] = self._text.decode("utf-8")
            except UnicodeDecodeError:
                self.fail(InvalidInput("invalid_text", f"{self._target} is not valid UTF-8", self._target))
        self._target = None

    def _end(self) -> None:
        self.finished = True


async def receive_upload(request: Request, *, scratch: Path, max_file_bytes: int, file_field: str = "file",
                         text_fields: Collection[str] = (), sniff: Callable[[bytes], None] = lambda head: None,
                         ) -> StreamedUpload:
    """Parse a ``multipart/form-data`` body as it streams in. Raises a 4xx ``DomainError`` (or what ``sniff``
    raises) on any problem, leaving nothing on disk; on success the caller must ``discard()`` the result."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data":
        raise ApiError(415, "not_multipart", "send the video as multipart/form-data with a 'file' part")
    boundary = options.get(b"boundary")
    if not boundary:
        raise ApiError(400, "malformed_multipart", "the multipart Content-Type has no boundary")
    max_body = max_file_bytes + ENVELOPE_BYTES
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        raise TooLarge("too_large", f"the upload is larger than the limit of {max_file_bytes} bytes", file_field)

    scratch.mkdir(parents=True, exist_ok=True)
    receiver = _FormReceiver(file_field=file_field, text_fields=text_fields, max_file_bytes=max_file_bytes,
                             scratch=scratch, sniff=sniff)
    parser = MultipartParser(boundary, receiver.callbacks())
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_body:
                receiver.fail(TooLarge("too_large", f"the upload is larger than the limit of {max_file_bytes} bytes",
                                       file_field))
            if receiver.error is None and chunk:
                parser.write(chunk)
            if receiver.error is not None:
                break
        if receiver.error is None and not receiver.finished:
            receiver.fail(ApiError(400, "malformed_multipart", "the multipart body ended before its closing boundary"))
    except MultipartParseError as error:
        receiver.fail(ApiError(400, "malformed_multipart", f"the multipart body is malformed: {error}"))
    except ClientDisconnect:
        receiver.fail(ApiError(400, "upload_interrupted", "the connection closed before the upload finished"))
    except BaseException:
        receiver.close_file()
        receiver.upload.discard()
        raise
    receiver.close_file()
    if receiver.error is not None:
        receiver.upload.discard()
        raise receiver.error
    if receiver.upload.file_path is None:
        raise InvalidInput("missing_file", f"the form has no '{file_field}' part with the video", file_field)
    return receiver.upload


__all__ = ["StreamedUpload", "receive_upload"]
