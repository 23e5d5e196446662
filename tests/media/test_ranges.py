from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.testclient import TestClient

from openfyp.media.errors import MediaError
from openfyp.media.ranges import RangeNotSatisfiable, parse_range, range_response
from openfyp.media.storage import LocalMediaStore, MediaStore

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", (0, 99)),
        ("bytes=0-0", (0, 0)),
        ("bytes=500-", (500, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=900-5000", (900, 999)),
        ("bytes=999-999", (999, 999)),
        ("Bytes = 10-20", (10, 20)),
        ("bytes= 10 - 20 ", (10, 20)),
        ("bytes=0-1,5-9", (0, 1)),  # multi-range: the first satisfiable range only
        ("bytes=2000-3000, 10-20", (10, 20)),
        ("bytes=-0, 5-6", (5, 6)),
        # Malformed or foreign headers are ignored: the whole object is served.
        ("items=0-10", None),
        ("bytes", None),
        ("bytes=", None),
        ("bytes=abc", None),
        ("bytes=5-1", None),
        ("bytes=-", None),
        ("bytes=1-2-3", None),
        ("bytes=--5", None),
        ("bytes=+1-2", None),
        ("bytes=\u00b2-3", None),
        ("bytes=" + ",".join(["0-1"] * 100), None),
    ],
)
def test_parse_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, SIZE) == expected


@pytest.mark.parametrize(
    ("header", "size"),
    [("bytes=1000-", SIZE), ("bytes=1000-2000", SIZE), ("bytes=-0", SIZE), ("bytes=0-", 0), ("bytes=-10", 0),
     ("bytes=2000-3000,4000-", SIZE)],
)
def test_parse_range_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as caught:
        parse_range(header, size)
    assert caught.value.size == size


def make_app(store: MediaStore) -> FastAPI:
    app = FastAPI()

    @app.exception_handler(MediaError)
    async def _media_error(_: Request, exc: MediaError) -> JSONResponse:
        return JSONResponse({"error": exc.as_dict()}, status_code=exc.status)

    @app.api_route("/media/{key:path}", methods=["GET", "HEAD"])
    def serve(key: str, request: Request) -> Response:
        return range_response(store, key, request.headers.get("range"), "video/mp4", method=request.method,
                              headers={"Cache-Control": "public, max-age=3600"})

    return app


@pytest.fixture
def served(tmp_path: Path, portrait_clip: Path) -> tuple[TestClient, bytes]:
    store = LocalMediaStore(tmp_path / "store", chunk_bytes=4096)
    store.put_file("videos/clip.mp4", portrait_clip, "video/mp4")
    return TestClient(make_app(store)), portrait_clip.read_bytes()


def test_full_body_without_range(served: tuple[TestClient, bytes]) -> None:
    client, data = served
    response = client.get("/media/videos/clip.mp4")
    assert response.status_code == 200
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-length"] == str(len(data))
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert "content-range" not in response.headers
    assert response.content == data


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-99", 0, 99), ("bytes=1000-", 1000, None), ("bytes=-500", -500, None),
     ("bytes=4000-12000", 4000, 12000), ("bytes=0-0", 0, 0)],
)
def test_partial_content(served: tuple[TestClient, bytes], header: str, first: int, last: int | None) -> None:
    client, data = served
    size = len(data)
    start = first if first >= 0 else size + first
    end = size - 1 if last is None else last
    response = client.get("/media/videos/clip.mp4", headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end}/{size}"
    assert response.headers["content-length"] == str(end - start + 1)
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.content == data[start : end + 1]


def test_range_past_the_end_is_416(served: tuple[TestClient, bytes]) -> None:
    client, data = served
    response = client.get("/media/videos/clip.mp4", headers={"Range": f"bytes={len(data)}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(data)}"
    assert response.content == b""


def test_malformed_range_gets_the_whole_file(served: tuple[TestClient, bytes]) -> None:
    client, data = served
    response = client.get("/media/videos/clip.mp4", headers={"Range": "bytes=9-3"})
    assert response.status_code == 200 and response.content == data


def test_head_sends_headers_only(served: tuple[TestClient, bytes]) -> None:
    client, data = served
    response = client.head("/media/videos/clip.mp4", headers={"Range": "bytes=10-19"})
    assert response.status_code == 206
    assert response.headers["content-length"] == "10"
    assert response.headers["content-range"] == f"bytes 10-19/{len(data)}"
    assert response.content == b""


def test_missing_object_is_404(served: tuple[TestClient, bytes]) -> None:
    client, _ = served
    response = client.get("/media/videos/none.mp4")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "media_not_found"


def test_body_streams_in_store_sized_chunks(tmp_path: Path, portrait_clip: Path) -> None:
    store = LocalMediaStore(tmp_path, chunk_bytes=4096)
    store.put_file("v.mp4", portrait_clip, "video/mp4")
    response = range_response(store, "v.mp4", "bytes=100-50000", "video/mp4")

    async def collect() -> list[bytes]:
        return [chunk async for chunk in response.body_iterator]  # type: ignore[attr-defined]

    chunks = asyncio.run(collect())
    assert len(chunks) == 13 and all(len(chunk) <= 4096 for chunk in chunks)
    assert b"".join(chunks) == portrait_clip.read_bytes()[100:50001]
