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
from openfyp.recsys.sources.base import (
    SourceRequest,
    best_first,
    in_sorted,
    member_of,
    ordered_head,
    sorted_keys,
    take_best,
)
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


def test_partial_ordering_gives_exactly_the_full_orders_head():
    """``take_best`` sorts only a head; whatever the ties, exclusions and ineligible rows, the result is the
    one a full sort by (score desc, video id) and a scan for the first unexcluded eligible rows gives."""
    rng = np.random.default_rng(5)
    catalog, stats = world(400)
    for trial in range(200):
        n = int(rng.integers(1, 400))
        rows = rng.choice(catalog.size, n, replace=False).astype(np.int64)
        scores = rng.integers(0, 6, n).astype(float)  # many ties
        if trial % 7 == 0:
            scores[rng.uniform(size=n) < 0.2] = np.nan
        catalog.eligible[: catalog.size] = rng.uniform(size=catalog.size) > (0.9 if trial % 5 == 0 else 0.05)
        excluded = frozenset(int(v) for v in rng.choice(catalog.video_ids[: catalog.size], int(rng.integers(0, 40))))
        request = SourceRequest(now=NOW, catalog=catalog, stats=stats, viewer=None, relations=ViewerRelations(),
                                seed=trial, exclude_video_ids=excluded)
        quota = int(rng.integers(1, 80))
        got = take_best(request, rows, scores, quota)
        ordered, ordered_scores = best_first(rows, scores, catalog)
        keep = catalog.eligible[ordered] & ~np.isin(catalog.video_ids[ordered], list(excluded))
        assert got.rows.tolist() == ordered[keep][:quota].tolist()
        np.testing.assert_array_equal(got.scores, ordered_scores[keep][:quota])
        keys = rng.normal(size=n)
        assert ordered_head(keys, catalog.video_ids[rows], quota).tolist()[:quota] == \
            np.lexsort((catalog.video_ids[rows], keys)).tolist()[:quota]


def test_membership_of_ids_matches_python_sets():
    values = np.array([5, 3, 9, -1, 3, 2**40, 0], dtype=np.int64)
    members = {3, 0, 2**40, 77}
    assert member_of(values, members).tolist() == [v in members for v in values.tolist()]
    assert member_of(values, set()).tolist() == [False] * len(values)
    assert in_sorted(sorted_keys(frozenset(members)), np.zeros(0, dtype=np.int64)).tolist() == []


def test_cowatch_neighbours_uploaded_after_the_model_loaded_are_found():
    """The co-watch index's videos are mapped to catalog rows once; one the catalog did not have yet (an
    upload the log already knew, a video restored) is picked up once it arrives."""
    import scipy.sparse as sp

    from openfyp.recsys.sources.cowatch import CoWatchIndex
    from openfyp.recsys.sources.models import FoldIn, KeyedVectors, ServingModels

    catalog, stats = world(10)
    index_ids = np.array([1, 2, 99], dtype=np.int64)
    links = sp.csr_matrix((np.array([1.0, 0.5], dtype=np.float32), (np.array([0, 0]), np.array([2, 1]))),
                          shape=(3, 3))
    empty = KeyedVectors(np.zeros(0, np.int64), np.zeros((0, 4), np.float32))
    models = ServingModels("t", np.arange(1, 11), np.random.default_rng(0).normal(size=(10, 4)), hashtags=empty,
                           sounds=empty, creators=empty, fold_in=FoldIn(), cowatch=CoWatchIndex(index_ids, links),
                           predictor=None)
    models.attach(catalog)
    viewer = ViewerState(7, ViewerStateConfig())
    viewer.completions.append((NOW, 1))
    rows, _ = models.cowatch_candidates(request(catalog, stats, viewer))
    assert catalog.video_ids[rows].tolist() == [2]
    catalog.upsert([VideoRecord(video_id=99, creator_id=100, created_ts=NOW)])
    rows, scores = models.cowatch_candidates(request(catalog, stats, viewer))
    assert sorted(catalog.video_ids[rows].tolist()) == [2, 99]
    assert scores[catalog.video_ids[rows].tolist().index(99)] == 1.0
