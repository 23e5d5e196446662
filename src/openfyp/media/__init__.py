"""Video in, video out: validating uploads, transcoding for the web, storing and serving byte ranges.

ffmpeg comes from PyPI only: PyAV reads files in-process, and the binary bundled with
``imageio-ffmpeg`` transcodes and draws synthetic clips.
"""

from __future__ import annotations

from openfyp.media.errors import InvalidMediaKey, MediaError, MediaNotFound
from openfyp.media.probe import MediaInfo, probe
from openfyp.media.ranges import RangeNotSatisfiable, parse_range, range_response
from openfyp.media.storage import LocalMediaStore, MediaStore, S3MediaStore, media_store_from_settings
from openfyp.media.transcode import TranscodeResult, extract_audio, transcode
from openfyp.media.validate import sniff_upload_head, validate_upload

__all__ = [
    "InvalidMediaKey",
    "LocalMediaStore",
    "MediaError",
    "MediaInfo",
    "MediaNotFound",
    "MediaStore",
    "RangeNotSatisfiable",
    "S3MediaStore",
    "TranscodeResult",
    "extract_audio",
    "media_store_from_settings",
    "parse_range",
    "probe",
    "range_response",
    "sniff_upload_head",
    "transcode",
    "validate_upload",
]
