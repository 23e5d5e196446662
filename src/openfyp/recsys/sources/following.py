"""Following: recent uploads of the creators the viewer follows, newest first."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from openfyp.recsys.sources.base import (
    CandidateSource,
    SourceConfig,
    SourceRequest,
    SourceResult,
    recency,
    take_best,
)


class FollowingConfig(SourceConfig):
    max_age_days: float = Field(30.0, gt=0)
    per_creator: int = Field(10, ge=1)
    half_life_hours: float = Field(48.0, gt=0)


class FollowingSource(CandidateSource):
    name = "following"
    Config = FollowingConfig

    def __call__(self, request: SourceRequest, quota: int) -> SourceResult:
        catalog = request.catalog
        chunks = [catalog.by_creator.get(creator, [])[-self.config.per_creator:]
                  for creator in sorted(request.relations.following)]
        rows = np.fromiter((row for chunk in chunks for row in chunk), dtype=np.int64)
        if len(rows) == 0:
            return SourceResult.empty()
        rows = rows[request.now - catalog.created_ts[rows] <= self.config.max_age_days * 86400.0]
        scores = recency(catalog.created_ts[rows], request.now, self.config.half_life_hours)
        return take_best(request, rows, scores, quota)
