"""Re-ranking: turn scored candidates into a page that is varied, respects dismissals and keeps exploring.

* fatigue: after "not interested" (or an early skip) the creator, hashtags and sound of that video lose a
  fading share of their score;
* diversity: no two videos in a row from the same creator or with the same sound;
* exploration: a configured share of slots goes to fresh or out-of-profile videos, drawn with the request's
  seed so a replay draws the same;
* exact dedupe: a video appears at most once on a page.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openfyp.recsys.ranking.config import DiversityConfig, ExplorationConfig, FatigueConfig
from openfyp.recsys.sources.base import lookup_sorted, seeded_rng


@dataclass(frozen=True)
class Dismissal:
    ts: float
    creator_id: int
    hashtag_ids: tuple[int, ...]
    sound_id: int
    strength: float  # 1 for "not interested", less for an early skip


def fatigue_multipliers(creators: np.ndarray, hashtags: np.ndarray, sounds: np.ndarray,
                        dismissals: list[Dismissal], now: float, config: FatigueConfig) -> np.ndarray:
    """Per candidate, the fraction of its score kept after recent dismissals (1 = untouched)."""
    by_creator: dict[int, float] = {}
    by_tag: dict[int, float] = {}
    by_sound: dict[int, float] = {}
    if not dismissals:
        return np.ones(len(creators), dtype=np.float64)
    # Every dismissal's age and fading in one numpy call each (the same values, element by element, as one
    # call per dismissal): a viewer may have dozens of them.
    age_hours = (now - np.array([item.ts for item in dismissals], dtype=np.float64)) / 3600.0
    fading = np.exp2(-np.maximum(age_hours, 0.0) / config.half_life_hours).tolist()
    for item, age_h, faded in zip(dismissals, age_hours.tolist(), fading):
        if age_h > config.window_hours or age_h < -1.0:
            continue
        strength = item.strength * faded
        # Each dismissal multiplies in its own discount, so two dismissals of one creator compound.
        by_creator[item.creator_id] = by_creator.get(item.creator_id, 1.0) * (1.0 - config.creator * strength)
        for tag in set(item.hashtag_ids):
            by_tag[tag] = by_tag.get(tag, 1.0) * (1.0 - config.hashtag * strength)
        if item.sound_id >= 0:
            by_sound[item.sound_id] = by_sound.get(item.sound_id, 1.0) * (1.0 - config.sound * strength)
    keep = np.ones(len(creators), dtype=np.float64)
    if not (by_creator or by_tag or by_sound):
        return keep
    keep *= _factors(creators, by_creator)
    if by_tag:
        # A candidate sharing several dismissed hashtags takes the strongest of those discounts.
        keep *= _factors(hashtags, by_tag).min(axis=1)
    keep *= _factors(sounds, by_sound)
    return np.maximum(keep, config.floor)


def _factors(keys: np.ndarray, table: dict[int, float]) -> np.ndarray:
    if not table:
        return np.ones(keys.shape, dtype=np.float64)
    # A few dozen keys at most: sorted in Python, then two small arrays.
    # (-1 pads the hashtag slots and means "no sound": never a dismissed key.)
    usable = sorted(item for item in table.items() if item[0] >= 0)
    known = np.array([key for key, _ in usable], dtype=np.int64)
    values = np.array([value for _, value in usable], dtype=np.float64)
    return lookup_sorted(known, values, keys, default=1.0)


@dataclass(frozen=True)
class Slot:
    index: int  # into the candidate arrays
    exploration: bool


def select_page(video_ids: np.ndarray, creators: np.ndarray, sounds: np.ndarray, scores: np.ndarray,
                explorable: np.ndarray, limit: int, seed: int, exploration: ExplorationConfig,
                diversity: DiversityConfig) -> list[Slot]:
    """Fill ``limit`` slots greedily by score under the diversity rules, with seeded exploration slots."""
    n = len(video_ids)
    if n == 0 or limit <= 0:
        return []
    order = np.lexsort((video_ids, -scores))
    rng = seeded_rng(seed, 7)
    pool = explorable.nonzero()[0]
    pool = pool[video_ids[pool].argsort(kind="stable")]
    n_explore = min(int(round(limit * exploration.share)), len(pool), max(limit - 1, 0))
    explore_at: set[int] = set()
    explore_queue: list[int] = []
    if n_explore > 0:
        # Never the first slot: the page opens with the best the viewer is predicted to enjoy.
        explore_at = {int(p) for p in rng.choice(np.arange(1, limit), size=n_explore, replace=False)}
        explore_queue = rng.permutation(pool).tolist()

    # Plain Python lists: the loop below touches a few dozen items, where numpy scalars only cost time.
    order_list = order.tolist()
    ids, creator_of, sound_of = video_ids.tolist(), creators.tolist(), sounds.tolist()
    used = [False] * n
    used_ids: set[int] = set()
    page: list[Slot] = []
    last_creator, last_sound = None, None

    def fits(i: int) -> bool:
        if used[i] or ids[i] in used_ids:
            return False
        if diversity.no_adjacent_creator and last_creator is not None and creator_of[i] == last_creator:
            return False
        if diversity.no_adjacent_sound and last_sound is not None and sound_of[i] >= 0 and sound_of[i] == last_sound:
            return False
        return True

    while len(page) < limit:
        position = len(page)
        chosen, explored = None, False
        if position in explore_at:
            chosen = next((i for i in explore_queue if fits(i)), None)
            explored = chosen is not None
        if chosen is None:
            chosen = next((i for i in order_list if fits(i)), None)
        if chosen is None:
            # The rules cannot be met with what is left (e.g. one creator only): relax them, never dedupe.
            chosen = next((i for i in order_list if not used[i] and ids[i] not in used_ids), None)
            if chosen is None:
                break
        used[chosen] = True
        used_ids.add(ids[chosen])
        last_creator, last_sound = creator_of[chosen], sound_of[chosen]
        page.append(Slot(chosen, explored))
    return page
