"""``POST /api/events``: the client's batched engagement events, acknowledged only once durable.

The body is read here rather than by FastAPI so an oversized batch is refused (413) before it is parsed
and each bad event is reported by its position (``events[3].video_id``).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from openfyp.events.schema import EventBatch, EventIn
from openfyp.platform.errors import InvalidInput, TooLarge
from openfyp.platform.interactions import CLIENT_KINDS, client_events, record_interactions
from openfyp.web.deps import DB, AppServices, CurrentViewer, WriteLimit
from openfyp.web.errors import ApiError

router = APIRouter(tags=["events"])

# A generous ceiling per event on the wire (a typical one is ~300 bytes).
BYTES_PER_EVENT = 4096
_event = TypeAdapter(EventIn)


def _inline_refs(schema: dict) -> dict:
    """The batch's JSON schema with its ``$defs`` inlined, so it stands alone inside the OpenAPI document."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


_BATCH_SCHEMA = _inline_refs(EventBatch.model_json_schema())


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge("batch_too_large", f"an event batch is limited to {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge("batch_too_large", f"an event batch is limited to {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_batch(raw: bytes, max_events: int) -> list[EventIn]:
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "malformed_json", "the request body is not valid JSON") from None
    if not isinstance(document, dict) or set(document) != {"events"}:
        raise InvalidInput("invalid_input", 'the body must be {"events": [...]}', "events")
    items = document["events"]
    if not isinstance(items, list) or not items:
        raise InvalidInput("invalid_input", "events must be a non-empty list", "events")
    if len(items) > max_events:
        raise TooLarge("batch_too_large", f"a batch holds at most {max_events} events, not {len(items)}", "events")
    events = []
    for index, item in enumerate(items):
        try:
            events.append(_event.validate_python(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            location = "".join(f".{part}" if isinstance(part, str) else f"[{part}]" for part in first["loc"])
            field = f"events[{index}]{location}"
            raise InvalidInput("invalid_event", f"{field}: {first['msg']}", field) from None
    return events


@router.post("/api/events", dependencies=[WriteLimit], openapi_extra={
    "requestBody": {"required": True, "content": {"application/json": {"schema": _BATCH_SCHEMA}}}})
async def ingest_events(request: Request, viewer: CurrentViewer, db: DB, services: AppServices) -> dict[str, int]:
    """Record a batch of the viewer's events: all of it, or (on any invalid event) none of it."""
    max_events = services.settings.max_event_batch
    raw = await _read_body(request, max_events * BYTES_PER_EVENT)
    batch = parse_batch(raw, max_events)
    events = client_events(batch, actor_id=viewer.id, region=services.region)
    recorded = await run_in_threadpool(record_interactions, db, services, viewer.user, events,
                                       allowed_kinds=CLIENT_KINDS)
    return {"accepted": recorded.accepted, "duplicates": recorded.duplicates}
