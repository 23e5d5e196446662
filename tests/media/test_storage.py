from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.testclient import TestClient

from openfyp.media.errors import InvalidMediaKey, MediaNotFound
from openfyp.media.ranges import range_response
from openfyp.media.storage import (
    LocalMediaStore,
    MediaStore,
    S3MediaStore,
    media_store_from_settings,
    validate_key,
)
from openfyp.settings import Settings

BAD_KEYS = [
    "", "../escape.mp4", "videos/../../etc/passwd", "/etc/passwd", "videos//x.mp4", ".hidden", "videos/.x",
    "videos/..", "a\\b.mp4", "videos/x y.mp4", "videos/\u00e9.mp4", "x" * 600, "trailing/", "nul\x00.mp4",
]


def payload(tmp_path: Path, size: int = 300_000) -> tuple[Path, bytes]:
    data = os.urandom(size)
    source = tmp_path / "payload.bin"
    source.write_bytes(data)
    return source, data


def exercise_store(store: MediaStore, tmp_path: Path) -> None:
    source, data = payload(tmp_path)
    key = "videos/ab/clip-1.mp4"
    assert not store.exists(key)
    store.put_file(key, source, "video/mp4")
    assert store.exists(key)
    assert store.size(key) == len(data)
    assert b"".join(store.open_range(key, 0, len(data) - 1)) == data
    assert b"".join(store.open_range(key, 1234, 99_999)) == data[1234:100_000]
    assert b"".join(store.open_range(key, len(data) - 1, len(data) - 1)) == data[-1:]

    replacement, new_data = payload(tmp_path, 1000)
    store.put_file(key, replacement, "video/mp4")
    assert store.size(key) == 1000 and b"".join(store.open_range(key, 0, 999)) == new_data

    store.delete(key)
    assert not store.exists(key)
    store.delete(key)  # deleting twice is fine
    with pytest.raises(MediaNotFound):
        store.size(key)
    with pytest.raises(MediaNotFound):
        b"".join(store.open_range(key, 0, 10))
    for bad in BAD_KEYS:
        with pytest.raises(InvalidMediaKey):
            store.put_file(bad, source, "video/mp4")
        with pytest.raises(InvalidMediaKey):
            store.exists(bad)


def test_local_store_round_trip(tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path / "root")
    exercise_store(store, tmp_path)
    assert isinstance(store, MediaStore)


def test_local_store_writes_atomically_and_exposes_paths(tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path / "root")
    source, data = payload(tmp_path)
    store.put_file("posters/p.jpg", source, "image/jpeg")
    path = store.local_path("posters/p.jpg")
    assert path == (tmp_path / "root" / "posters" / "p.jpg").resolve()
    assert path.read_bytes() == data
    assert sorted(p.name for p in path.parent.iterdir()) == ["p.jpg"]  # no temp files left behind
    assert store.local_path("posters/none.jpg") is None


def test_local_store_failed_copy_leaves_nothing(tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path / "root")
    with pytest.raises(FileNotFoundError):
        store.put_file("videos/v.mp4", tmp_path / "does-not-exist", "video/mp4")
    assert not store.exists("videos/v.mp4")
    assert list((tmp_path / "root" / "videos").iterdir()) == []


def test_local_store_refuses_out_of_bounds_ranges(tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path)
    source, data = payload(tmp_path, 100)
    store.put_file("x.bin", source, "application/octet-stream")
    for start, end in [(-1, 5), (5, 4), (0, 100)]:
        with pytest.raises(ValueError):
            store.open_range("x.bin", start, end)


@pytest.mark.parametrize("key", BAD_KEYS)
def test_keys_that_could_escape_are_refused(key: str) -> None:
    with pytest.raises(InvalidMediaKey) as caught:
        validate_key(key)
    assert caught.value.code == "invalid_key" and caught.value.field == "key"


def test_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    root = tmp_path / "root"
    store = LocalMediaStore(root)
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidMediaKey):
        store.size("link/secret.txt")
    with pytest.raises(InvalidMediaKey):
        store.open_range("link/secret.txt", 0, 1)


def test_settings_pick_the_local_store(tmp_path: Path) -> None:
    store = media_store_from_settings(Settings(data_dir=tmp_path / "data"))
    assert isinstance(store, LocalMediaStore)
    assert store.root == (tmp_path / "data" / "media").resolve()


# ---- S3, against a real S3-compatible HTTP server on loopback ----------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server_module = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_store(endpoint: str, bucket: str) -> S3MediaStore:
    return S3MediaStore(endpoint, bucket, "test-access", "test-secret", "us-east-1", create_bucket=True)


@pytest.mark.s3
def test_s3_store_round_trip(s3_endpoint: str, tmp_path: Path) -> None:
    exercise_store(s3_store(s3_endpoint, "round-trip"), tmp_path)


@pytest.mark.s3
def test_s3_store_keeps_content_type_and_has_no_local_path(s3_endpoint: str, tmp_path: Path) -> None:
    store = s3_store(s3_endpoint, "content-types")
    source, _ = payload(tmp_path, 10)
    store.put_file("posters/p.jpg", source, "image/jpeg")
    head = store.client.head_object(Bucket="content-types", Key="posters/p.jpg")
    assert head["ContentType"] == "image/jpeg"
    assert store.local_path("posters/p.jpg") is None


@pytest.mark.s3
def test_s3_store_serves_ranges_over_http(s3_endpoint: str, tmp_path: Path, portrait_clip: Path) -> None:
    store = s3_store(s3_endpoint, "ranges")
    store.put_file("videos/clip.mp4", portrait_clip, "video/mp4")
    data = portrait_clip.read_bytes()
    app = FastAPI()

    @app.get("/v")
    def serve(request: Request) -> Response:
        return range_response(store, "videos/clip.mp4", request.headers.get("range"), "video/mp4")

    client = TestClient(app)
    partial = client.get("/v", headers={"Range": "bytes=100-5099"})
    assert partial.status_code == 206
    assert partial.headers["content-range"] == f"bytes 100-5099/{len(data)}"
    assert partial.content == data[100:5100]
    whole = client.get("/v")
    assert whole.status_code == 200 and whole.content == data
    assert client.get("/v", headers={"Range": f"bytes={len(data)}-"}).status_code == 416


@pytest.mark.s3
def test_settings_pick_the_s3_store(s3_endpoint: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, media_backend="s3", s3_endpoint_url=s3_endpoint, s3_bucket="from-settings",
                        s3_access_key="k", s3_secret_key="s")
    store = media_store_from_settings(settings)
    assert isinstance(store, S3MediaStore)
    source, data = payload(tmp_path, 64)
    store.put_file("a.bin", source, "application/octet-stream")
    assert b"".join(store.open_range("a.bin", 0, 63)) == data
