"""Trending in the region: time-decayed engagement (finishes, likes, shares...) over this region's videos."""

from __future__ import annotations

from pydantic import Field

from openfyp.recsys.sources.base import CandidateSource, SourceConfig, SourceRequest, SourceResult, take_unexcluded


class TrendingConfig(SourceConfig):
    overfetch: int = Field(4, ge=1, le=50, description="Read this many times the quota before filtering.")
    refresh_seconds: float = Field(5.0, ge=0, description="How long the region's top list is reused.")


class TrendingSource(CandidateSource):
    name = "trending"
    Config = TrendingConfig

    def __call__(self, request: SourceRequest, quota: int) -> SourceResult:
        extra = len(request.exclude_video_ids)
        rows = request.stats.top_trending(quota * self.config.overfetch + extra, request.now,
                                          self.config.refresh_seconds)
        scores = request.stats.trending_at(rows, request.now)
        return take_unexcluded(request, rows, scores, quota)
