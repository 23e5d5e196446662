"""All tables, imported here so that ``Base.metadata`` (and Alembic) sees every one of them."""

from openfyp.store.tables.accounts import AuthSession, Block, Role, User
from openfyp.store.tables.content import Hashtag, ModerationState, Sound, Video, VideoHashtag, VideoStatus, Visibility
from openfyp.store.tables.events import CatalogChange, EventRow, IdFloor, VideoViewCount
from openfyp.store.tables.feed import FeedRequest, Impression
from openfyp.store.tables.governance import AuditEntryRow, DataRequest, ErasedUser  # noqa: F401
from openfyp.store.tables.jobs import Job, JobStatus
from openfyp.store.tables.moderation import (  # noqa: F401
    AccountSanction, Appeal, KeywordFilter, KeywordFilterRevision, ModerationCase, MutedWord, Notification, Report,
)
from openfyp.store.tables.social import Comment, Follow, Like, NotInterested, Save, Share

__all__ = [
    "AuthSession", "Block", "CatalogChange", "Comment", "EventRow", "FeedRequest", "Follow", "Hashtag", "IdFloor",
    "Impression", "Job", "JobStatus", "Like", "ModerationState", "NotInterested", "Role", "Save", "Share", "Sound",
    "User", "Video", "VideoHashtag", "VideoStatus", "VideoViewCount", "Visibility",
]
