"""Fresh uploads: recent videos that have barely been shown, so every new video gets a first audience.

Among the newest videos, those with the fewest impressions come first; the draw is seeded by the request,
so a replay draws the same videos. With traffic pools on (``openfyp.realtime.pools``), a video is proposed
while its current pool still has views to give, in proportion to what is left of it (a larger pool, after a
promotion, draws more); a video that settled or graduated gets no more exploration traffic from here.

``NewestSource`` is the last resort after it: the newest recommendable videos of any age, asked only when a
page cannot be filled otherwise (see ``openfyp.recsys.pipeline.FALLBACK_SOURCES``).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from openfyp.recsys.sources.base import CandidateSource, SourceConfig, SourceRequest, SourceResult, take_best


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
        # The newest rows are one contiguous slice: read them as views, not copies.
        age_h = (request.now - catalog.created_ts[start:n]) / 3600.0
        recent = (age_h <= self.config.max_age_hours) & catalog.eligible[start:n]
        selected: slice | np.ndarray
        if recent.all():  # the usual case on a busy deployment: the newest slice as it is, no gathers
            rows, selected = np.arange(start, n, dtype=np.int64), slice(start, n)
            age_h = np.maximum(age_h, 0.0)
        else:
            rows = recent.nonzero()[0].astype(np.int64) + start
            selected = rows
            age_h = np.maximum(age_h[recent], 0.0)
        if len(rows) == 0:
            return SourceResult.empty()
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
            shown = request.stats["impressions"][selected] + request.stats["plays"][selected]
            weight = 1.0 / (1.0 + shown / self.config.exposure_scale) * np.exp2(-age_h / self.config.max_age_hours)
        # Exponential race keys: sampling without replacement in proportion to weight, fixed by the seed.
        keys = request.rng(self.name).exponential(size=len(rows)) / np.maximum(weight, 1e-12)
        return take_best(request, rows, weight, quota, sort_keys=keys)


class NewestConfig(SourceConfig):
    scan: int = Field(5000, ge=1, description="Rows looked at per step, newest first.")
    half_life_hours: float = Field(72.0, gt=0)


class NewestSource(CandidateSource):
    """The newest recommendable videos, whatever their age: the last resort that keeps a feed from being empty.

    Not one of the regular sources (it proposes nothing the others do not, better): the pipeline asks it only
    when the sources of a mode found too little, e.g. a signed-out visitor of a deployment nobody has watched
    anything on yet, whose uploads are too old for ``fresh``.
    """

    name = "newest"
    Config = NewestConfig

    def __call__(self, request: SourceRequest, quota: int) -> SourceResult:
        catalog = request.catalog
        end = catalog.size
        found: list[np.ndarray] = []
        count = 0
        # Newest rows first, a slice at a time, until enough recommendable ones are seen (or none are left).
        while end > 0 and count < quota + len(request.exclude_video_ids):
            start = max(0, end - self.config.scan)
            rows = np.flatnonzero(catalog.eligible[start:end]).astype(np.int64) + start
            found.append(rows)
            count += len(rows)
            end = start
        rows = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
        age_h = np.maximum(request.now - catalog.created_ts[rows], 0.0) / 3600.0
        return take_best(request, rows, np.exp2(-age_h / self.config.half_life_hours), quota)
