"""Hashtag and sound affinity: recent, engaging videos under the hashtags and sounds the viewer engages with.

The viewer's affinities move with every graded event (see :class:`openfyp.recsys.state.ViewerState`), so
finishing three #cooking videos puts #cooking videos into the very next page.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from openfyp.recsys.sources.base import (
    CandidateSource,
    SourceConfig,
    SourceRequest,
    SourceResult,
    recency,
    sum_by_key,
    take_best,
)


class AffinityConfig(SourceConfig):
    top_hashtags: int = Field(5, ge=0)
    top_sounds: int = Field(3, ge=0)
    scan_per_key: int = Field(300, ge=1, description="Newest videos looked at per hashtag or sound.")
    half_life_hours: float = Field(168.0, gt=0)


class AffinitySource(CandidateSource):
    name = "affinity"
    Config = AffinityConfig

    def __call__(self, request: SourceRequest, quota: int) -> SourceResult:
        viewer = request.viewer
        if viewer is None:
            return SourceResult.empty()
        catalog, now = request.catalog, request.now
        parts: list[tuple[np.ndarray, float]] = []
        scan = self.config.scan_per_key
        for tag, weight in viewer.hashtag_affinity.top(self.config.top_hashtags, now):
            parts.append((catalog.newest_rows("hashtag", tag, scan), weight))
        for sound, weight in viewer.sound_affinity.top(self.config.top_sounds, now):
            parts.append((catalog.newest_rows("sound", sound, scan), weight))
        if not parts:
            return SourceResult.empty()
        rows = np.concatenate([p[0] for p in parts])
        affinity = np.repeat([p[1] for p in parts], [len(p[0]) for p in parts]).astype(np.float64)
        if len(rows) == 0:
            return SourceResult.empty()
        # A video under two liked hashtags gets both affinities.
        unique, summed = sum_by_key(rows, affinity)
        quality = 1.0 + np.log1p(request.stats.trending_at(unique, now))
        scores = summed * quality * recency(catalog.created_ts[unique], now, self.config.half_life_hours)
        return take_best(request, unique, scores, quota)
