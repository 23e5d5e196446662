from __future__ import annotations

import numpy as np

from openfyp.recsys.ranking.config import DiversityConfig, ExplorationConfig, FatigueConfig
from openfyp.recsys.rerank import Dismissal, fatigue_multipliers, select_page


def page(n=40, creators=None, sounds=None, explorable=None, limit=10, seed=1, share=0.1, scores=None):
    video_ids = np.arange(1, n + 1)
    creators = np.asarray(creators if creators is not None else np.arange(n) % 3)
    sounds = np.asarray(sounds if sounds is not None else np.arange(n) % 4)
    scores = np.asarray(scores if scores is not None else np.linspace(1, 0, n))
    explorable = np.asarray(explorable if explorable is not None else np.zeros(n, bool))
    slots = select_page(video_ids, creators, sounds, scores, explorable, limit, seed,
                        ExplorationConfig(share=share), DiversityConfig())
    return slots, video_ids, creators, sounds


def test_no_two_in_a_row_from_one_creator_or_sound():
    # The best eight share a creator: a greedy top-k would return them back to back.
    creators = [7] * 8 + list(range(32))
    sounds = [1, 1, 2, 2] + [9] * 6 + list(range(30))
    slots, ids, creators, sounds = page(creators=creators, sounds=sounds, share=0.0)
    chosen = [s.index for s in slots]
    assert len(chosen) == 10 and len({ids[i] for i in chosen}) == 10
    for a, b in zip(chosen, chosen[1:]):
        assert creators[a] != creators[b]
        assert sounds[a] != sounds[b]


def test_rules_relax_only_when_they_cannot_hold():
    slots, ids, _, _ = page(n=3, creators=[1, 1, 1], sounds=[-1, -1, -1], share=0.0)
    assert [ids[s.index] for s in slots] == [1, 2, 3]


def test_exploration_slots_are_seeded_and_never_first():
    explorable = np.zeros(40, bool)
    explorable[30:] = True
    first, ids, _, _ = page(explorable=explorable, share=0.2, seed=42)
    again, _, _, _ = page(explorable=explorable, share=0.2, seed=42)
    other, _, _, _ = page(explorable=explorable, share=0.2, seed=43)
    assert [(s.index, s.exploration) for s in first] == [(s.index, s.exploration) for s in again]
    explored = [i for i, s in enumerate(first) if s.exploration]
    assert len(explored) == 2 and 0 not in explored
    assert all(explorable[first[i].index] for i in explored)
    assert [(s.index, s.exploration) for s in other] != [(s.index, s.exploration) for s in first]


def test_fatigue_discounts_dismissed_creator_hashtag_and_sound():
    creators = np.array([1, 2, 3, 4])
    hashtags = np.array([[5, -1], [6, -1], [5, 7], [8, -1]])
    sounds = np.array([9, 10, 11, 9])
    now = 100_000.0
    cfg = FatigueConfig()
    keep = fatigue_multipliers(creators, hashtags, sounds, [Dismissal(now - 60, 1, (5,), 9, 1.0)], now, cfg)
    assert keep[1] == 1.0
    assert keep[0] < keep[2] < 1.0 and keep[3] < 1.0
    old = fatigue_multipliers(creators, hashtags, sounds,
                              [Dismissal(now - 3600 * (cfg.window_hours + 1), 1, (5,), 9, 1.0)], now, cfg)
    assert np.all(old == 1.0)
