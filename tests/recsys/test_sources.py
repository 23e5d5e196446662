from __future__ import annotations

import numpy as np
import pytest

from openfyp.recsys.contracts import RecsysError
from openfyp.recsys.data import EventColumns
from openfyp.recsys.sources import (
    AffinitySource,
    CoWatchSource,
    EmbeddingSource,
    FollowingSource,
    FreshSource,
    TrendingSource,
    build_sources,
)
from openfyp.recsys.sources.base import SourceRequest
from openfyp.recsys.sources.cowatch import fit_cowatch
from openfyp.recsys.sources.embedding import VectorIndex
from openfyp.recsys.state import (
    Catalog,
    EventRecord,
    VideoRecord,
    VideoStats,
    ViewerRelations,
    ViewerState,
    ViewerStateConfig,
)

NOW = 1_700_000_000.0
HOUR = 3600.0


def world(n: int = 30) -> tuple[Catalog, VideoStats]:
    catalog = Catalog("us")
    catalog.upsert(VideoRecord(video_id=i + 1, creator_id=100 + i % 5, created_ts=NOW - (n - i) * HOUR,
                               sound_id=200 + i % 4, hashtag_ids=(300 + i % 3,)) for i in range(n))
    return catalog, VideoStats(catalog)


def request(catalog, stats, viewer=None, relations=None, seed=1, exclude=(), models=None) -> SourceRequest:
    return SourceRequest(NOW, catalog, stats, viewer, relations or ViewerRelations(), seed, frozenset(exclude),
                         models)


def watch(stats: VideoStats, catalog: Catalog, video_id: int, kind: str, count: int, ts: float = NOW) -> None:
    rows = catalog.rows_of([video_id] * count)
    stats.apply(rows, [kind] * count, np.full(count, np.nan), np.full(count, ts))


def ids(catalog: Catalog, result) -> list[int]:
    return [int(v) for v in catalog.video_ids[result.rows]]


def test_every_source_answers_an_unknown_viewer_without_error():
    catalog, stats = world()
    for source in build_sources():
        result = source(request(catalog, stats), 10)
        assert len(result.rows) == len(result.scores) <= 10


def test_trending_ranks_by_decayed_engagement_and_skips_excluded():
    catalog, stats = world()
    watch(stats, catalog, 5, "like", 3, NOW - 24 * HOUR)  # a day old: counts half
    watch(stats, catalog, 7, "like", 2)
    watch(stats, catalog, 9, "complete", 1)
    result = TrendingSource()(request(catalog, stats), 10)
    assert ids(catalog, result) == [7, 5, 9]
    assert np.all(np.diff(result.scores) <= 0)
    assert ids(catalog, TrendingSource()(request(catalog, stats, exclude={7}), 10)) == [5, 9]


def test_fresh_is_seeded_and_prefers_unseen_uploads():
    catalog, stats = world()
    watch(stats, catalog, 30, "impression", 500)
    first = ids(catalog, FreshSource()(request(catalog, stats, seed=3), 5))
    assert first == ids(catalog, FreshSource()(request(catalog, stats, seed=3), 5))
    draws = [ids(catalog, FreshSource()(request(catalog, stats, seed=s), 5)) for s in range(40)]
    assert sum(30 in d for d in draws) < sum(29 in d for d in draws)
    assert all(catalog.created_ts[catalog.row_of[v]] >= NOW - 72 * HOUR for d in draws for v in d)


def test_following_returns_recent_uploads_of_followed_creators():
    catalog, stats = world()
    result = FollowingSource()(request(catalog, stats, relations=ViewerRelations(following=frozenset({101}))), 50)
    found = ids(catalog, result)
    assert found and all(catalog.creator_ids[catalog.row_of[v]] == 101 for v in found)
    assert found == sorted(found, reverse=True)  # newest first


def viewer_who_finished(catalog: Catalog, videos: list[int]) -> ViewerState:
    viewer = ViewerState(1, ViewerStateConfig())
    for seq, video in enumerate(videos, start=1):
        viewer.apply(EventRecord(seq, 1, video, None, "complete", 1.0, NOW - 60 + seq), catalog)
    return viewer


def test_affinity_follows_finished_hashtags():
    catalog, stats = world()
    viewer = viewer_who_finished(catalog, [1, 4, 7])  # all tagged 300
    found = ids(catalog, AffinitySource()(request(catalog, stats, viewer=viewer, exclude=viewer.seen), 10))
    # The hashtag finished three times outranks the sounds finished once each.
    assert len(found) == 10 and all(300 in catalog.hashtags_of(catalog.row_of[v]) for v in found[:5])
    assert not {1, 4, 7} & set(found)


def test_cowatch_links_videos_finished_in_the_same_session():
    rows = []
    seq = 0
    for user in range(20):
        for offset, video in enumerate((1, 2, 3) if user % 2 else (1, 2, 4)):
            seq += 1
            rows.append((seq, user, video, None, "complete", 1.0, NOW + user * 86400 + offset * 60, None))
        seq += 1  # a separate session much later: not linked to the first
        rows.append((seq, user, 9, None, "complete", 1.0, NOW + user * 86400 + 5 * HOUR, None))
    index = fit_cowatch(EventColumns.from_rows(rows))
    position = {int(v): i for i, v in enumerate(index.video_ids)}
    neighbours = index.matrix[position[1]].toarray().ravel()
    assert neighbours[position[2]] > 0 and neighbours[position[9]] == 0
    items, scores = index.neighbours_of(np.array([position[3]]), np.array([1.0]))
    assert position[2] in items.tolist() and position[4] not in items.tolist()


def test_cowatch_and_embedding_sources_need_trained_models():
    catalog, stats = world()
    viewer = viewer_who_finished(catalog, [1])
    assert len(CoWatchSource()(request(catalog, stats, viewer=viewer), 10).rows) == 0
    assert len(EmbeddingSource()(request(catalog, stats, viewer=viewer), 10).rows) == 0


@pytest.mark.parametrize("n, kind", [(500, "flat"), (3000, "ivf")])
def test_vector_index_finds_the_nearest_rows(n, kind):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(n, 16)).astype(np.float32)
    index = VectorIndex(16, vectors, ivf_min_items=2000, nprobe=64)
    index.add(np.arange(n), vectors)
    assert index.kind.startswith(kind)
    query = vectors[123] * 3
    rows, scores = index.search(query, 5)
    exact = np.argsort(-(vectors @ query))[:5]
    assert rows[0] == exact[0] and len(set(rows) & set(exact)) >= 4
    assert np.all(np.diff(scores) <= 1e-5)
    extra = rng.normal(size=(1, 16)).astype(np.float32) * 10
    index.add(np.array([n]), extra)
    assert index.search(extra[0], 1)[0][0] == n


def test_source_configs_are_validated():
    with pytest.raises(RecsysError) as error:
        FreshSource({"max_age_hours": -1})
    assert error.value.code == "bad_source_config" and error.value.field == "max_age_hours"
    with pytest.raises(RecsysError) as error:
        build_sources({"nonsense": {}})
    assert error.value.code == "unknown_source"
