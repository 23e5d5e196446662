"""Which kind of data each table holds, for residency and access decisions.

A table nobody classified is protected: new data is kept in its region until someone decides otherwise.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class DataClass(StrEnum):
    accounts = "accounts"
    events = "events"
    videos = "videos"  # a video's metadata; public only while the video is public, ready and in good standing
    messages = "messages"
    moderation = "moderation"
    public_content = "public_content"  # sounds and hashtags: public by nature, still region-bound
    governance = "governance"
    protected = "protected"


_BY_TABLE: dict[str, DataClass] = {
    "users": DataClass.accounts, "auth_sessions": DataClass.accounts, "blocks": DataClass.accounts,
    "follows": DataClass.accounts, "muted_words": DataClass.accounts, "notifications": DataClass.accounts,
    "events": DataClass.events, "feed_requests": DataClass.events, "impressions": DataClass.events,
    "likes": DataClass.events, "saves": DataClass.events, "shares": DataClass.events,
    "not_interested": DataClass.events,
    "videos": DataClass.videos, "video_hashtags": DataClass.videos, "comments": DataClass.videos,
    "catalog_changes": DataClass.videos, "id_floors": DataClass.events,
    "sounds": DataClass.public_content, "hashtags": DataClass.public_content,
    "moderation_cases": DataClass.moderation, "reports": DataClass.moderation, "appeals": DataClass.moderation,
    "account_sanctions": DataClass.moderation, "keyword_filters": DataClass.moderation,
    "audit_log": DataClass.governance, "data_requests": DataClass.governance, "erased_users": DataClass.governance,
    "jobs": DataClass.protected,
}


def table_name(model: Any) -> str:
    table = getattr(model, "__table__", None)
    return table.name if table is not None else str(getattr(model, "__tablename__", model))


def classify(model: Any) -> DataClass:
    name = table_name(model)
    if name in _BY_TABLE:
        return _BY_TABLE[name]
    if "message" in name or "conversation" in name or name.startswith("dm_"):
        return DataClass.messages
    return DataClass.protected


def is_public_video(video: Any) -> bool:
    """Public video metadata is the only data that may leave the region, and only where policy allows."""
    return (getattr(video, "visibility", None) == "public" and getattr(video, "status", None) == "ready"
            and getattr(video, "moderation_state", None) == "ok" and getattr(video, "deleted_at", None) is None)
