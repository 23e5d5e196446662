"""Fresh uploads: recent videos that have barely been shown, so every new video gets a first audience.

Among the newest videos, those with the fewest impressions come first; the draw is seeded by the request,
so a replay draws the same videos. With traffic pools on (``openfyp.realtime.pools``), a video is proposed
while its current pool still has views to give, in proportion to what is left of it (a larger pool, after a
promotion, draws more); a video that settled or graduated gets no more exploration traffic from here.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from openfyp.recsys.sources.base import CandidateSource, SourceConfig, SourceRequest, SourceResult, take_unexcluded


class FreshConfig(SourceConfig):
    max_age_hours: float = Field(72.0, gt=0)
    scan: int = Field(5000, ge=1, description="How many of the newest videos are considered.")
    exposure_scale: float = Field(20.0, gt=0, description="Impressions at which a video's weight halves.")


class FreshSource(CandidateSource):
    name = "fresh"
    Config = FreshConfig

    def __call__(self, request: SourceRequest, quota: int) -> SourceResult:
        catalog = request.catalog
        n = catalog.size
        start = max(0, n - self.config.scan)
        rows = np.arange(start, n, dtype=np.int64)
        age_h = (request.now - catalog.created_ts[rows]) / 3600.0
        rows = rows[(age_h <= self.config.max_age_hours) & catalog.eligible[rows]]
        if len(rows) == 0:
            return SourceResult.empty()
        age_h = np.maximum((request.now - catalog.created_ts[rows]) / 3600.0, 0.0)
        pools = request.online.pools if request.online is not None else None
        if pools is not None and pools.enabled:
            share = request.online.pool_share(rows)
            first = float(pools.settings.stages[0].size)
            boost = np.sqrt(np.maximum(pools.stage_sizes(rows), first) / first)
            weight = share * boost * np.exp2(-age_h / self.config.max_age_hours)
            keep = weight > 0
            rows, weight = rows[keep], weight[keep]
            if len(rows) == 0:
                return SourceResult.empty()
        else:
            shown = request.stats["impressions"][rows] + request.stats["plays"][rows]
            weight = 1.0 / (1.0 + shown / self.config.exposure_scale) * np.exp2(-age_h / self.config.max_age_hours)
        # Exponential race keys: sampling without replacement in proportion to weight, fixed by the seed.
        keys = request.rng(self.name).exponential(size=len(rows)) / np.maximum(weight, 1e-12)
        order = np.lexsort((catalog.video_ids[rows], keys))
        return take_unexcluded(request, rows[order], weight[order], quota)
