"""What the platform and the For You engine agree on: a request context in, ranked items with reasons out.

The platform (``openfyp.platform.feeds``) builds a ``FeedContext``, calls ``FeedEngine.recommend`` and logs
the result (``FeedRequest`` and ``Impression`` rows) so the request can be replayed and become training data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from openfyp.recsys.coded_error import CodedError


@dataclass(frozen=True)
class FeedContext:
    region: str
    user_id: int | None  # None: a signed-out visitor
    request_id: str
    now: datetime
    limit: int = 10
    personalised: bool = True  # False: the viewer chose non-personalised mode (regional popularity)
    is_minor: bool = False
    # Everything this viewer has already been shown; the engine never returns these.
    seen_video_ids: frozenset[int] = frozenset()
    # Signals older than this are ignored (the viewer reset their feed).
    signals_since: datetime | None = None


@dataclass
class Reason:
    """Why this video: the sources that proposed it and the largest contributions to its score."""

    sources: list[str]
    contributions: list[tuple[str, float]] = field(default_factory=list)
    summary: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"sources": self.sources,
                "contributions": [{"name": n, "value": round(v, 6)} for n, v in self.contributions],
                "summary": self.summary}


@dataclass
class Recommendation:
    video_id: int
    score: float
    reason: Reason


@dataclass
class FeedResult:
    items: list[Recommendation]
    model_version: str | None
    config_version: str | None
    # Everything needed to recompute this page exactly (candidates, features, seeds); stored with the request.
    logged_inputs: dict[str, Any] = field(default_factory=dict)


class FeedEngine(Protocol):
    def recommend(self, context: FeedContext) -> FeedResult: ...


class RecsysError(CodedError):
    """A For You request or model operation that cannot be served; ``code`` is machine-readable."""


class ReplayableFeedEngine(FeedEngine, Protocol):
    """An engine whose pages can be recomputed from ``FeedResult.logged_inputs`` (audit replay)."""

    def replay(self, logged_inputs: dict[str, Any]) -> FeedResult: ...
