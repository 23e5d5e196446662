"""The For You pipeline, in two halves.

1. ``ForYouPipeline.build_inputs`` gathers candidates from every source (each allowed to fail), applies the
   filters, computes the ranker features, scores everything and keeps a shortlist. The shortlist, with
   its features, source scores, fatigue, exploration flags, the seed and the versions, is the request's
   *logged inputs*: a plain JSON-able dict.
2. ``rank_logged`` turns logged inputs into the page: predictions, the published score, re-ranking and
   reasons. Live requests run exactly this function on the inputs they log, so ``rank_logged`` applied to
   a stored request later (the audit replay) recomputes the same page.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import compress
from typing import Any

import numpy as np

from openfyp.recsys.contracts import FeedContext, FeedResult, Recommendation, RecsysError
from openfyp.recsys.filters import FILTERS, CandidateFilter, FilterInput, apply_filters
from openfyp.recsys.ranking.config import RankingConfig
from openfyp.recsys.ranking.features import (
    FEATURE_INDEX,
    FEATURE_NAMES,
    FEATURE_VERSION,
    SLOT_AFFINITIES,
    _lookup,
    build_features,
)
from openfyp.recsys.ranking.predictors import HeuristicPredictor, Predictor, combine
from openfyp.recsys.ranking.reasons import build_reason
from openfyp.recsys.rerank import Dismissal, fatigue_multipliers, select_page
from openfyp.recsys.sources.base import CandidateSource, SourceRequest, in_sorted, unique_sorted
from openfyp.recsys.sources.fresh import FreshSource, NewestSource
from openfyp.recsys.state import MAX_TAGS

log = logging.getLogger(__name__)

INPUTS_SCHEMA = 1
PERSONALISED, COLD_START, REGIONAL_POPULARITY = "personalised", "cold_start", "regional_popularity"
POPULARITY_SOURCES = ("trending",)
# When popularity cannot fill a page (a new deployment, or a region where little is watched yet): new uploads,
# then the newest videos of any age. Neither looks at the viewer, so the mode stays non-personalised.
FALLBACK_SOURCES = ("fresh", "newest")
# Fallback candidates rank below anything with a real trending score (one play weighs ~0.25 and halves daily).
FALLBACK_SCALE = 1e-6


def request_seed(request_id: str) -> int:
    """The exploration seed of a request: a pure function of its id, so it is reproducible and logged."""
    return int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:8], "big") >> 1


@dataclass
class CandidateSet:
    rows: np.ndarray
    source_names: list[str]
    source_scores: np.ndarray  # (n, len(source_names)); NaN where a source did not propose the row
    errors: dict[str, str] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)


class ForYouPipeline:
    def __init__(self, sources: Sequence[CandidateSource], config: RankingConfig,
                 filters: list[tuple[str, CandidateFilter]] | None = None) -> None:
        self.sources = list(sources)
        self.config = config
        self.filters = filters or FILTERS
        self.preranker = HeuristicPredictor()
        configured = {source.name: source for source in self.sources}
        self.fallback_sources = [configured.get("fresh") or FreshSource(), NewestSource()]
        self.config_digest = config.digest  # logged with every page; the config never changes under a pipeline
        self.quotas = config.source_quotas.as_dict()

    # ---- stage 1: candidates --------------------------------------------------------------------------
    def gather(self, request: SourceRequest, mode: str, *, fallback: bool = False) -> CandidateSet:
        """Every active source's candidates; ``fallback`` adds the sources that fill a page popularity cannot."""
        quotas = dict(self.quotas)
        active = [s for s in self.sources if mode != REGIONAL_POPULARITY or s.name in POPULARITY_SOURCES]
        if fallback:
            active += self.fallback_sources
            quotas.setdefault("newest", max(quotas.get("fresh", 0), 60))
        names: list[str] = []
        results = []
        errors: dict[str, str] = {}
        timings: dict[str, float] = {}
        for source in active:
            quota = quotas.get(source.name, 100)
            if quota <= 0:
                continue
            started = time.perf_counter()
            try:
                result = source(request, quota)
            except Exception as exc:  # noqa: BLE001 - a failing source must never fail the request
                log.exception("candidate source %s failed", source.name)
                errors[source.name] = f"{type(exc).__name__}: {exc}"[:300]
                continue
            finally:
                timings[source.name] = round((time.perf_counter() - started) * 1000, 3)
            names.append(source.name)
            results.append(result)
        all_rows = np.concatenate([r.rows for r in results]) if results else np.zeros(0, dtype=np.int64)
        rows = unique_sorted(all_rows)
        scores = np.full((len(rows), len(names)), np.nan)
        # Every proposal's position among the distinct rows in one binary search, then source by source.
        positions = rows.searchsorted(all_rows)
        end = 0
        for j, result in enumerate(results):
            start, end = end, end + len(result.rows)
            if end > start:
                scores[positions[start:end], j] = result.scores
        return CandidateSet(rows, names, scores, errors, timings)

    # ---- stage 1 end to end: logged inputs --------------------------------------------------------------
    def build_inputs(self, context: FeedContext, request: SourceRequest, *, mode: str, model_version: str,
                     seen_video_ids: frozenset[int] | set[int]) -> dict[str, Any]:
        config = self.config
        catalog = request.catalog
        candidates = self.gather(request, mode)
        filter_input = FilterInput(catalog, context.region, seen_video_ids, request.relations, context.is_minor)
        keep_rows, dropped = apply_filters(candidates.rows, filter_input, self.filters)
        if mode == REGIONAL_POPULARITY and len(keep_rows) < context.limit:
            # Too little is popular to fill the page: never leave a visitor with an empty feed.
            candidates = self.gather(request, mode, fallback=True)
            keep_rows, dropped = apply_filters(candidates.rows, filter_input, self.filters)
        keep = in_sorted(keep_rows, candidates.rows)  # both sorted: the rows come out of unique_sorted
        rows, source_scores = candidates.rows[keep], candidates.source_scores[keep]

        if mode == REGIONAL_POPULARITY:
            features = np.zeros((len(rows), 0))
            fatigue = np.ones(len(rows))
            score = _popularity_scores(candidates.source_names, source_scores)
        else:
            features = build_features(request, rows, candidates.source_names, source_scores)
            # A cascade: the transparent heuristic ranks every candidate cheaply; the (possibly learned)
            # predictor then ranks only the shortlist, in ``rank_logged``.
            base, _ = combine(self.preranker.predict(features), config.task_weights)
            fatigue = fatigue_multipliers(catalog.creator_ids[rows], catalog.hashtags[rows], catalog.sound_ids[rows],
                                          self._dismissals(request), request.now, config.fatigue)
            score = base * fatigue
        explorable = self._explorable(request, rows, candidates.source_names, source_scores, features, mode)
        short = _shortlist(catalog.video_ids[rows], score, explorable, config.shortlist, config.exploration_pool)
        slot_affinities = request.cache.get(SLOT_AFFINITIES)
        if slot_affinities is not None and slot_affinities[0] is rows:  # computed by build_features above
            slot_affinities = (slot_affinities[1][short], slot_affinities[2][short])
        else:
            slot_affinities = None
        rows, source_scores = rows[short], source_scores[short]
        features, fatigue, explorable = features[short], fatigue[short], explorable[short]
        return {
            "schema": INPUTS_SCHEMA,
            "request": {
                "request_id": context.request_id, "user_id": context.user_id, "region": context.region,
                "now": datetime.fromtimestamp(request.now, UTC).isoformat(), "now_ts": request.now,
                "limit": context.limit, "personalised": context.personalised, "is_minor": context.is_minor,
                "mode": mode,
            },
            "seed": request.seed,
            "config_version": config.version,
            "config_digest": self.config_digest,
            "model_version": model_version,
            "feature_version": FEATURE_VERSION,
            "feature_names": list(FEATURE_NAMES) if mode != REGIONAL_POPULARITY else [],
            "sources": candidates.source_names,
            "candidates": {
                "video_ids": catalog.video_ids[rows].tolist(),
                "creator_ids": catalog.creator_ids[rows].tolist(),
                "sound_ids": catalog.sound_ids[rows].tolist(),
                "hashtag_ids": _hashtag_lists(catalog.hashtags[rows]),
                "source_scores": _sparse_source_scores(candidates.source_names, source_scores),
                "features": features.tolist(),
                "fatigue": fatigue.round(6).tolist(),
                "explorable": explorable.astype(bool).tolist(),
                "hints": _hints(request, rows, slot_affinities),
            },
            "filtered": dropped,
            "candidates_before_filters": int(len(candidates.rows)),
            "source_errors": candidates.errors,
            "source_timings_ms": candidates.timings_ms,
        }

    def _dismissals(self, request: SourceRequest) -> list[Dismissal]:
        viewer = request.viewer
        if viewer is None or not viewer.negatives:
            return []
        catalog = request.catalog
        early = self.config.fatigue.early_skip_factor
        # They change only with the viewer's events or the catalog (the age-based fading is applied later, at
        # the request's time), so a viewer's next requests reuse them.
        key = (viewer.version, id(catalog), catalog.version, early)
        cached = viewer.cache.get("dismissals")
        if isinstance(cached, tuple) and cached[0] == key:
            return cached[1]
        out = []
        for ts, video_id, kind in viewer.negatives:
            row = catalog.row_of.get(video_id)
            if row is None:
                continue
            out.append(Dismissal(ts, int(catalog.creator_ids[row]), tuple(catalog.hashtags_of(row)),
                                 int(catalog.sound_ids[row]), 1.0 if kind == "not_interested" else early))
        viewer.cache["dismissals"] = (key, out)
        return out

    def _explorable(self, request: SourceRequest, rows: np.ndarray, names: list[str], source_scores: np.ndarray,
                    features: np.ndarray, mode: str) -> np.ndarray:
        if mode == REGIONAL_POPULARITY:
            # With nothing popular at all, the new videos explore (find their first viewers); otherwise the
            # popular ones lead and fallback candidates only fill the page after them.
            only = _fallback_only(names, source_scores)
            return only if only.all() else np.zeros(len(rows), dtype=bool)
        if len(rows) == 0:
            return np.zeros(len(rows), dtype=bool)
        cfg = self.config.exploration
        age_h = (request.now - request.catalog.created_ts[rows]) / 3600.0
        fresh = np.zeros(len(rows), dtype=bool)
        if "fresh" in names:
            fresh = ~np.isnan(source_scores[:, names.index("fresh")]) & (age_h <= cfg.fresh_max_age_hours)
        affinity = (np.abs(features[:, FEATURE_INDEX["creator_affinity"]])
                    + np.abs(features[:, FEATURE_INDEX["hashtag_affinity"]])
                    + np.abs(features[:, FEATURE_INDEX["sound_affinity"]]))
        personal = [names.index(n) for n in ("following", "cowatch", "embedding", "affinity") if n in names]
        proposed_personally = (~np.isnan(source_scores[:, personal])).any(axis=1) if personal else \
            np.zeros(len(rows), dtype=bool)
        out_of_profile = (affinity <= cfg.out_of_profile_affinity) & ~proposed_personally
        has_profile = request.viewer is not None and request.viewer.has_signals
        return fresh | (out_of_profile & has_profile)


def _sparse_source_scores(names: list[str], scores: np.ndarray) -> dict[str, dict[str, list]]:
    """Per source, the candidates it proposed (by index) and its score for each, rounded for the log."""
    # The whole block rounded and turned into lists at once, then each source's row picked apart in C
    # (``compress``): a few calls per request instead of four numpy calls per source.
    by_source = scores.T
    proposed_by = (~np.isnan(by_source)).tolist()
    rounded = by_source.round(6).tolist()
    positions = range(len(scores))
    return {name: {"index": list(compress(positions, proposed)), "score": list(compress(values, proposed))}
            for name, proposed, values in zip(names, proposed_by, rounded)}


def _dense_source_scores(names: list[str], logged: dict[str, dict[str, list]], n: int) -> np.ndarray:
    scores = np.full((n, len(names)), np.nan)
    for j, name in enumerate(names):
        part = logged.get(name) or {"index": [], "score": []}
        scores[np.asarray(part["index"], dtype=np.int64), j] = np.asarray(part["score"], dtype=np.float64)
    return scores


def _popularity_scores(names: list[str], source_scores: np.ndarray) -> np.ndarray:
    """The trending score; candidates only a fallback source proposed get a tiny score below it."""
    score = np.zeros(len(source_scores))
    if "trending" in names:
        score = np.nan_to_num(source_scores[:, names.index("trending")], nan=0.0)
    only = _fallback_only(names, source_scores)
    if only.any():
        fallback = np.nan_to_num(source_scores[:, [names.index(n) for n in FALLBACK_SOURCES if n in names]], nan=0.0)
        score[only] = FALLBACK_SCALE * fallback[only].max(axis=1)
    return score


def _fallback_only(names: list[str], source_scores: np.ndarray) -> np.ndarray:
    """In a popularity page, the candidates a fallback source proposed and trending did not."""
    fallback = [names.index(n) for n in FALLBACK_SOURCES if n in names and n not in POPULARITY_SOURCES]
    if not fallback:
        return np.zeros(len(source_scores), dtype=bool)
    only = (~np.isnan(source_scores[:, fallback])).any(axis=1)
    if "trending" in names:
        only &= np.isnan(source_scores[:, names.index("trending")])
    return only


def _shortlist(video_ids: np.ndarray, score: np.ndarray, explorable: np.ndarray, size: int,
               pool: int) -> np.ndarray:
    """Indices of the ``size`` best candidates plus the ``pool`` best explorable ones, in candidate order."""
    order = np.lexsort((video_ids, -score))
    chosen = np.zeros(len(order), dtype=bool)
    chosen[order[:size]] = True
    chosen[order[explorable[order]][:pool]] = True
    return chosen.nonzero()[0].astype(np.int64)


def _hashtag_lists(tags: np.ndarray) -> list[list[int]]:
    """Each row's hashtag ids without the -1 padding, in slot order."""
    present = tags >= 0
    flat = tags[present].tolist()  # row by row, slot order kept
    ends = present.sum(axis=1).cumsum().tolist()
    return [flat[start:end] for start, end in zip([0, *ends[:-1]], ends)]


def _finished_tags(viewer: Any, catalog: Any) -> set[int]:
    """The hashtags of the videos the viewer finished (kept with the viewer until their next event)."""
    key = (viewer.version, id(catalog), catalog.version)
    cached = viewer.cache.get("finished_tags")
    if isinstance(cached, tuple) and cached[0] == key:
        return cached[1]
    finished_rows = catalog.rows_of([video_id for _, video_id in viewer.completions])
    finished = catalog.hashtags[finished_rows[finished_rows >= 0]].ravel()
    tags = set(finished[finished >= 0].tolist())
    viewer.cache["finished_tags"] = (key, tags)
    return tags


def _hints(request: SourceRequest, rows: np.ndarray,
           slot_affinities: tuple[np.ndarray, np.ndarray] | None = None) -> list[dict[str, Any]]:
    """What a reason may name: the creator, the viewer's best-liked hashtag and sound of the video.

    ``slot_affinities``: the viewer's affinity to each hashtag slot and to the sound of ``rows``, when the
    features have looked them up already."""
    catalog, viewer, now = request.catalog, request.viewer, request.now
    creators = catalog.creator_ids[rows]
    following = request.relations.following
    best_tags = np.full(len(rows), -1, dtype=np.int64)
    liked_sound = np.zeros(len(rows), dtype=bool)
    finished_tags: set[int] = set()
    if viewer is not None and len(rows):
        tags = catalog.hashtags[rows]
        if slot_affinities is None:
            slot_affinities = (_lookup(viewer.hashtag_affinity, tags, now),
                               _lookup(viewer.sound_affinity, catalog.sound_ids[rows], now))
        affinity = slot_affinities[0]
        best = affinity.argmax(axis=1)
        every_row = np.arange(len(rows))
        has = affinity[every_row, best] > 0
        best_tags[has] = tags[every_row, best][has]
        liked_sound = slot_affinities[1] > 0
        if viewer.completions:
            finished_tags = _finished_tags(viewer, catalog)
    hints: list[dict[str, Any]] = []
    creator_names, hashtag_names, sound_titles = catalog.creator_names, catalog.hashtag_names, catalog.sound_titles
    # Python lists, not numpy scalars, in the loop: it runs once per shortlisted candidate.
    for creator, tag, sound, likes_sound in zip(creators.tolist(), best_tags.tolist(),
                                                catalog.sound_ids[rows].tolist(), liked_sound.tolist()):
        hint: dict[str, Any] = {}
        name = creator_names.get(creator)
        if name:
            hint["creator"] = name
        if creator in following:
            hint["followed"] = True
        if tag >= 0 and tag in hashtag_names:
            hint["tag"] = hashtag_names[tag]
            if tag in finished_tags:
                hint["tag_finished"] = True
        if likes_sound:
            title = sound_titles.get(sound)
            if title:
                hint["sound"] = title
        hints.append(hint)
    return hints


# ---- stage 2: from logged inputs to the page ------------------------------------------------------------


def check_inputs(inputs: dict[str, Any]) -> None:
    if not isinstance(inputs, dict) or inputs.get("schema") != INPUTS_SCHEMA:
        raise RecsysError("bad_logged_inputs", f"logged inputs must be a schema-{INPUTS_SCHEMA} object", "inputs")
    for key in ("request", "seed", "candidates", "sources", "feature_names"):
        if key not in inputs:
            raise RecsysError("bad_logged_inputs", f"logged inputs lack {key!r}", key)


def rank_logged(inputs: dict[str, Any], predictor: Predictor, config: RankingConfig) -> FeedResult:
    """The page for logged inputs: deterministic in (inputs, predictor, config)."""
    check_inputs(inputs)
    request = inputs["request"]
    mode = request["mode"]
    cand = inputs["candidates"]
    video_ids = np.asarray(cand["video_ids"], dtype=np.int64)
    n = len(video_ids)
    names: list[str] = list(inputs["sources"])
    source_scores = _dense_source_scores(names, cand["source_scores"], n)
    fatigue = np.asarray(cand["fatigue"], dtype=np.float64)
    if mode == REGIONAL_POPULARITY:
        score = _popularity_scores(names, source_scores)
        terms = {"popularity": score}
    else:
        features = _aligned_features(inputs, n)
        base, terms = combine(predictor.predict(features), config.task_weights)
        score = base * fatigue
    page = select_page(video_ids, np.asarray(cand["creator_ids"], dtype=np.int64),
                       np.asarray(cand["sound_ids"], dtype=np.int64), score,
                       np.asarray(cand["explorable"], dtype=bool), int(request["limit"]), int(inputs["seed"]),
                       config.exploration, config.diversity)
    items = []
    chosen = [slot.index for slot in page]
    # The page's rows of every array as Python lists at once: per-item numpy scalar reads cost more.
    proposed = (~np.isnan(source_scores[chosen])).tolist()
    task_names = list(terms)
    term_rows = np.column_stack([terms[task][chosen] for task in task_names]).tolist() if task_names else \
        [[] for _ in chosen]
    page_ids, page_scores, page_fatigue = video_ids[chosen].tolist(), score[chosen].tolist(), fatigue[chosen].tolist()
    for k, slot in enumerate(page):
        sources = [name for name, by in zip(names, proposed[k]) if by]
        reason = build_reason(sources, dict(zip(task_names, term_rows[k])), cand["hints"][slot.index],
                              exploration=slot.exploration, mode=mode, fatigue=page_fatigue[k])
        items.append(Recommendation(video_id=page_ids[k], score=page_scores[k], reason=reason))
    return FeedResult(items=items, model_version=inputs.get("model_version"),
                      config_version=inputs.get("config_version"), logged_inputs=inputs)


def _aligned_features(inputs: dict[str, Any], n: int) -> np.ndarray:
    """The logged feature matrix in the serving feature order (features absent from the log are NaN)."""
    logged_names = list(inputs["feature_names"])
    matrix = np.asarray(inputs["candidates"]["features"], dtype=np.float64).reshape(n, len(logged_names))
    if logged_names == list(FEATURE_NAMES):
        return matrix
    out = np.full((n, len(FEATURE_NAMES)), np.nan)
    for j, name in enumerate(logged_names):
        if name in FEATURE_INDEX:
            out[:, FEATURE_INDEX[name]] = matrix[:, j]
    return out


__all__ = ["COLD_START", "PERSONALISED", "REGIONAL_POPULARITY", "CandidateSet", "ForYouPipeline", "MAX_TAGS",
           "rank_logged", "request_seed"]
