"""Where media bytes live: a local folder for one-box deployments, any S3-compatible bucket for more.

Keys are relative, slash-separated names such as ``videos/ab/abcdef.mp4``; both backends validate
them the same way, so a key that works on one works on the other and none can escape its root.
Reads are ranges (inclusive ``start``..``end``, as in HTTP) streamed in chunks, never whole files.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from openfyp.media.errors import InvalidMediaKey, MediaError, MediaNotFound

if TYPE_CHECKING:
    from openfyp.settings import Settings

CHUNK_BYTES = 256 * 1024
MAX_KEY_LENGTH = 512
# Each segment starts with a letter or digit, so ".", ".." and hidden names are impossible.
KEY_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def validate_key(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidMediaKey(str(key), "it is empty")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidMediaKey(key[:40] + "...", f"it is longer than {MAX_KEY_LENGTH} characters")
    for segment in key.split("/"):
        if not KEY_SEGMENT.fullmatch(segment):
            raise InvalidMediaKey(key, f"segment {segment!r} is not a plain name (letters, digits, '.', '_', '-')")
    return key


def _check_range(start: int, end: int, size: int, key: str) -> None:
    if start < 0 or end < start or end >= size:
        raise ValueError(f"byte range {start}-{end} is outside {key!r} ({size} bytes)")


@runtime_checkable
class MediaStore(Protocol):
    def put_file(self, key: str, src_path: str | Path, content_type: str) -> None: ...

    def open_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        """Yield bytes ``start``..``end`` inclusive, in chunks."""
        ...

    def size(self, key: str) -> int: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def local_path(self, key: str) -> Path | None:
        """A filesystem path to the object when the backend has one (lets ffmpeg read it in place)."""
        ...


class LocalMediaStore:
    """Objects are files under ``root``; writes land in a temp file beside the target, then one rename."""

    def __init__(self, root: str | Path, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.chunk_bytes = chunk_bytes

    def __repr__(self) -> str:
        return f"LocalMediaStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        # Belt and braces: a symlink planted inside the root must not lead out of it either.
        if not path.is_relative_to(self.root):
            raise InvalidMediaKey(key, "it resolves outside the media root")
        return path

    def put_file(self, key: str, src_path: str | Path, content_type: str = "application/octet-stream") -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        staged = Path(name)
        try:
            with os.fdopen(handle, "wb") as out, Path(src_path).open("rb") as source:
                shutil.copyfileobj(source, out, self.chunk_bytes)
                out.flush()
                os.fsync(out.fileno())
            staged.chmod(0o644)
            os.replace(staged, target)
        finally:
            staged.unlink(missing_ok=True)

    def open_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        path = self._path(key)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise MediaNotFound(key) from None
        _check_range(start, end, os.fstat(handle.fileno()).st_size, key)
        return self._chunks(handle, start, end)

    def _chunks(self, handle: Any, start: int, end: int) -> Iterator[bytes]:
        with handle:
            handle.seek(start)
            remaining = end - start + 1
            while remaining > 0:
                chunk = handle.read(min(self.chunk_bytes, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise MediaNotFound(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None


class S3MediaStore:
    """Objects in one bucket of any S3-compatible service, read with ranged GETs."""

    def __init__(
        self,
        endpoint_url: str | None,
        bucket: str,
        access_key: str | None,
        secret_key: str | None,
        region: str = "us-east-1",
        *,
        prefix: str = "",
        chunk_bytes: int = CHUNK_BYTES,
        create_bucket: bool = False,
    ) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:
            raise MediaError("storage_failed", "the S3 media backend needs boto3 (pip install openfyp[scale])",
                             None) from exc
        self.bucket = bucket
        self.prefix = validate_key(prefix.strip("/")) + "/" if prefix.strip("/") else ""
        self.chunk_bytes = chunk_bytes
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            # Path-style addressing works with MinIO, Garage, SeaweedFS and friends without DNS tricks.
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                          retries={"max_attempts": 3, "mode": "standard"}),
        )
        if create_bucket:
            self.ensure_bucket()

    def __repr__(self) -> str:
        return f"S3MediaStore(bucket={self.bucket!r}, endpoint={self.client.meta.endpoint_url!r})"

    def _object(self, key: str) -> str:
        return self.prefix + validate_key(key)

    @staticmethod
    def _is_missing(error: Exception) -> bool:
        response = getattr(error, "response", None) or {}
        code = str(response.get("Error", {}).get("Code", ""))
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return code in {"404", "NoSuchKey", "NotFound", "NoSuchBucket"} or status == 404

    def _fail(self, action: str, key: str, error: Exception) -> MediaError:
        if self._is_missing(error):
            return MediaNotFound(key)
        return MediaError("storage_failed", f"S3 {action} of {key!r} failed: {error}", "key")

    def ensure_bucket(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as error:
                if not self._is_missing(error):
                    raise
                self.client.create_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as error:
            raise MediaError("storage_failed", f"S3 bucket {self.bucket!r} is not usable: {error}", None) from error

    def put_file(self, key: str, src_path: str | Path, content_type: str = "application/octet-stream") -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            # upload_file switches to multipart for big files; S3 makes the object visible atomically.
            self.client.upload_file(str(src_path), self.bucket, self._object(key),
                                    ExtraArgs={"ContentType": content_type})
        except (ClientError, BotoCoreError) as error:
            raise self._fail("upload", key, error) from error

    def open_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        from botocore.exceptions import BotoCoreError, ClientError

        if start < 0 or end < start:
            raise ValueError(f"byte range {start}-{end} is invalid")
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._object(key), Range=f"bytes={start}-{end}")
        except (ClientError, BotoCoreError) as error:
            raise self._fail("read", key, error) from error
        return self._chunks(response["Body"])

    def _chunks(self, body: Any) -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(self.chunk_bytes)
        finally:
            body.close()

    def size(self, key: str) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=self._object(key))["ContentLength"])
        except (ClientError, BotoCoreError) as error:
            raise self._fail("stat", key, error) from error

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except MediaNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._object(key))
        except (ClientError, BotoCoreError) as error:
            if not self._is_missing(error):
                raise self._fail("delete", key, error) from error

    def local_path(self, key: str) -> Path | None:
        return None


def media_store_from_settings(settings: Settings) -> MediaStore:
    if settings.media_backend == "s3":
        return S3MediaStore(
            settings.s3_endpoint_url,
            settings.s3_bucket,
            settings.s3_access_key,
            settings.s3_secret_key,
            getattr(settings, "s3_region", None) or "us-east-1",
            create_bucket=True,
        )
    return LocalMediaStore(settings.resolved_media_dir)
