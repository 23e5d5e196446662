from __future__ import annotations

import numpy as np
import pytest

from openfyp.demo.audience import ClipTraits, SimulatedViewer
from openfyp.realtime.pools import (
    ACTIVE,
    GRADUATED,
    SETTLED,
    PoolConfigError,
    PoolSettings,
    TrafficPools,
    wilson_lower_bound,
)

STAGES = {"enabled": True, "stages": [{"name": "first", "size": 200, "confidence": 0.9},
                                      {"name": "second", "size": 1000, "confidence": 0.9},
                                      {"name": "third", "size": 4000, "confidence": 0.9}]}


def test_settings_are_checked_with_codes():
    assert PoolSettings.from_config(STAGES).stages[1].size == 1000
    for bad in ({"enabled": True, "stages": []},
                {"enabled": True, "stages": [{"name": "a", "size": 500}, {"name": "b", "size": 100}]},
                {"enabled": True, "stages": [{"name": "a", "size": 100, "confidence": 1.5}]},
                {"enabled": True, "stages": [{"name": "a", "size": 100, "colour": "red"}]}):
        with pytest.raises(PoolConfigError) as error:
            PoolSettings.from_config(bad)
        assert error.value.code == "bad_traffic_pools" and error.value.field.startswith("traffic_pools")


def test_wilson_bound_tightens_with_evidence_and_stays_below_the_rate():
    low = wilson_lower_bound(np.array([6, 60, 600]), np.array([10, 100, 1000]), 0.9)
    assert (low < 0.6).all() and low[0] < low[1] < low[2]
    assert wilson_lower_bound(np.array([0]), np.array([0]), 0.9)[0] == 0.0


def _simulate(seed: int, better_quality: float = 2.5, worse_quality: float = -2.5, ordinary: int = 60):
    """A catalog of ordinary clips plus a clearly better and a clearly worse one, shown by pool to random viewers."""
    rng = np.random.default_rng(seed)
    n_topics = 6
    viewers = [SimulatedViewer.sample(i, n_topics, seed) for i in range(300)]
    clips = [ClipTraits(video_id=i, topic=int(rng.integers(n_topics)), quality=float(rng.normal(0, 0.5)),
                        seconds=float(rng.uniform(8, 20)), creator_id=i) for i in range(ordinary)]
    better = ClipTraits(ordinary, topic=0, quality=better_quality, seconds=12.0, creator_id=ordinary)
    worse = ClipTraits(ordinary + 1, topic=0, quality=worse_quality, seconds=12.0, creator_id=ordinary + 1)
    clips += [better, worse]
    pools = TrafficPools(PoolSettings.from_config(STAGES))
    n = len(clips)
    rows = np.arange(n)
    views, completes, likes = np.zeros(n), np.zeros(n), np.zeros(n)
    # The special clips arrive after the ordinary ones, so the first pool knows its typical video by then.
    pools.enter(rows[:ordinary])
    for round_ in range(200):
        if round_ == 4:
            pools.enter(rows[ordinary:])
        active = rows[pools.status[:n] == ACTIVE]
        if len(active) == 0 and round_ > 4:
            break
        for row in active:
            for viewer in rng.choice(len(viewers), size=50):
                outcome = viewers[int(viewer)].watch(clips[row])
                views[row] += 1
                completes[row] += outcome.completed
                likes[row] += outcome.liked
        # The catalog's rates, as the engine's running stats give them.
        prior = (completes.sum() / max(views.sum(), 1.0), likes.sum() / max(views.sum(), 1.0))
        pools.judge(active, views[active], completes[active], likes[active], prior)
    return pools, ordinary, views


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_clearly_better_video_climbs_and_a_clearly_worse_one_settles(seed):
    pools, better, views = _simulate(seed)
    worse = better + 1
    assert pools.stage[better] >= 2 or pools.status[better] == GRADUATED
    assert pools.stage[worse] == 0 and pools.status[worse] == SETTLED
    assert views[worse] == 200, "a settled video gets no more pool traffic"
    ordinary_promoted = (pools.stage[:better] > 0).mean()
    assert ordinary_promoted < 0.5, "promotion needs evidence of beating the typical video, not luck"
    description = pools.describe(better, views[better], 0.0, 0.0, (0.3, 0.05))
    assert description["pool"] in ("third", "second") and description["pools"] == 3


def test_pool_traffic_share_runs_down_and_stops_when_settled():
    pools = TrafficPools(PoolSettings.from_config(STAGES))
    pools.enter([0, 1])
    share = pools.remaining_share(np.array([0, 1, 5]), np.array([50.0, 0.0, 0.0]))
    assert share.tolist() == [0.75, 1.0, 0.0]
    pools.judge(np.array([0]), np.array([200.0]), np.array([10.0]), np.array([1.0]), (0.3, 0.05))
    assert pools.status[0] == SETTLED and pools.remaining_share(np.array([0]), np.array([200.0]))[0] == 0.0


def test_pools_survive_a_snapshot_with_rows_renumbered():
    pools = TrafficPools(PoolSettings.from_config(STAGES))
    pools.enter([0, 1, 2])
    pools.judge(np.array([0, 1]), np.array([200.0, 200.0]), np.array([190.0, 5.0]), np.array([90.0, 0.0]),
                (0.3, 0.05))
    arrays = pools.to_arrays(3)
    restored = TrafficPools(PoolSettings.from_config(STAGES))
    restored.restore(arrays, np.array([2, 0, -1]))  # old row 0 is row 2 now, old row 2 is gone
    assert restored.stage[2] == 1 and restored.status[2] == ACTIVE
    assert restored.status[0] == SETTLED and restored.status[1] == 0
    assert list(restored.references[0]) == list(pools.references[0])
