"""Candidate sources: each proposes catalog rows for one request, independently of the others."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openfyp.recsys.contracts import RecsysError
from openfyp.recsys.sources.affinity import AffinityConfig, AffinitySource
from openfyp.recsys.sources.base import CandidateSource, SourceConfig, SourceRequest, SourceResult
from openfyp.recsys.sources.cowatch import CoWatchConfig, CoWatchSource
from openfyp.recsys.sources.embedding import EmbeddingConfig, EmbeddingSource
from openfyp.recsys.sources.fresh import FreshConfig, FreshSource
from openfyp.recsys.sources.following import FollowingConfig, FollowingSource
from openfyp.recsys.sources.trending import TrendingConfig, TrendingSource

SOURCES: dict[str, type[CandidateSource]] = {
    cls.name: cls for cls in (FollowingSource, CoWatchSource, EmbeddingSource, TrendingSource, FreshSource,
                              AffinitySource)
}


def register_source(cls: type[CandidateSource]) -> type[CandidateSource]:
    SOURCES[cls.name] = cls
    return cls


def build_sources(configs: Mapping[str, Mapping[str, Any]] | None = None,
                  names: list[str] | None = None) -> list[CandidateSource]:
    """One instance of each named source (all registered ones by default), configured from ``configs``."""
    configs = configs or {}
    unknown = set(configs) - set(SOURCES)
    if unknown:
        raise RecsysError("unknown_source", f"unknown candidate source {sorted(unknown)[0]!r}", "sources")
    return [SOURCES[name](configs.get(name)) for name in (names or list(SOURCES))]


__all__ = [
    "SOURCES", "AffinityConfig", "AffinitySource", "CandidateSource", "CoWatchConfig", "CoWatchSource",
    "EmbeddingConfig", "EmbeddingSource", "FollowingConfig", "FollowingSource",
    "FreshConfig", "FreshSource", "SourceConfig", "SourceRequest", "SourceResult", "TrendingConfig",
    "TrendingSource", "build_sources", "register_source",
]
