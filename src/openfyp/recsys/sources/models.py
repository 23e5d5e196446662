"""The trained models as the serving path uses them, aligned to the live catalog's rows.

A trained artifact knows the videos that existed when it was trained. ``ServingModels`` lays its vectors
over the catalog's rows, gives videos uploaded since a cold-start vector (the mean of the learned vectors of
their hashtags, sound and creator), indexes all of them for approximate search, and folds a viewer's
current history into a user vector with one small linear solve, so no retraining is needed for either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openfyp.recsys.artifacts import ServableArtifact
from openfyp.recsys.ranking.predictors import BoostedPredictor
from openfyp.recsys.sources.base import SourceRequest
from openfyp.recsys.sources.cowatch import CoWatchIndex, merge_scores, online_cowatch
from openfyp.recsys.sources.embedding import VectorIndex
from openfyp.recsys.state import Catalog, ViewerState

EMBEDDINGS_FILE = "embeddings.npz"
COWATCH_FILE = "cowatch.npz"
RANKER_DIR = "ranker"


@dataclass(frozen=True)
class FoldIn:
    """How a history becomes a user vector: ``als`` (weighted least squares) or ``ridge`` (BPR vectors)."""

    method: str = "als"
    regularization: float = 0.05
    alpha: float = 1.0
    binary: bool = True


@dataclass
class KeyedVectors:
    ids: np.ndarray  # sorted
    vectors: np.ndarray

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectors for ``keys`` (any shape) and a mask of which keys had one."""
        flat = np.asarray(keys, dtype=np.int64).ravel()
        if len(self.ids) == 0:
            return np.zeros((len(flat), self.vectors.shape[1]), np.float32), np.zeros(len(flat), bool)
        position = np.minimum(np.searchsorted(self.ids, flat), len(self.ids) - 1)
        found = (self.ids[position] == flat) & (flat >= 0)
        out = np.where(found[:, None], self.vectors[position], 0.0).astype(np.float32)
        return out, found


class ServingModels:
    def __init__(self, version: str, video_ids: np.ndarray, item_vectors: np.ndarray, *, hashtags: KeyedVectors,
                 sounds: KeyedVectors, creators: KeyedVectors, fold_in: FoldIn, cowatch: CoWatchIndex | None,
                 predictor: BoostedPredictor, ivf_min_items: int = 50_000, nprobe: int = 12) -> None:
        self.version = version
        order = np.argsort(video_ids, kind="stable")
        self.trained = KeyedVectors(np.asarray(video_ids, np.int64)[order],
                                    np.asarray(item_vectors, np.float32)[order])
        self.dim = int(item_vectors.shape[1]) if item_vectors.ndim == 2 else 0
        self.hashtags, self.sounds, self.creators = hashtags, sounds, creators
        self.fold_in = fold_in
        self.cowatch = cowatch
        self.predictor = predictor
        self.ivf_min_items = ivf_min_items
        self.nprobe = nprobe
        vectors = self.trained.vectors.astype(np.float64)
        self.gram = vectors.T @ vectors
        self.table = np.zeros((0, self.dim), dtype=np.float32)
        self.known = np.zeros(0, dtype=bool)
        self.rows_covered = 0
        self.index: VectorIndex | None = None
        if cowatch is not None and len(cowatch.video_ids):
            self._cowatch_order = np.argsort(cowatch.video_ids)
        else:
            self._cowatch_order = np.zeros(0, dtype=np.int64)
        self._cowatch_sorted_ids = cowatch.video_ids[self._cowatch_order] if cowatch is not None else \
            np.zeros(0, dtype=np.int64)
        # Catalog row of each co-watch video (-1: not in the catalog), the catalog and its size when resolved.
        self._cowatch_rows: tuple[np.ndarray, Catalog | None, int] = (
            np.full(len(self._cowatch_order), -1, dtype=np.int64), None, -1)

    # ---- loading ------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, artifact: ServableArtifact, catalog: Catalog) -> ServingModels:
        import scipy.sparse as sp

        path = artifact.path
        with np.load(path / EMBEDDINGS_FILE) as data:
            fold = FoldIn(str(data["fold_method"]), float(data["fold_regularization"]), float(data["fold_alpha"]),
                          bool(data["fold_binary"]))
            arrays = {key: data[key] for key in data.files}
        cowatch = None
        if (path / COWATCH_FILE).is_file():
            with np.load(path / COWATCH_FILE) as data:
                n = len(data["video_ids"])
                cowatch = CoWatchIndex(data["video_ids"], sp.csr_matrix(
                    (data["data"], data["indices"], data["indptr"]), shape=(n, n)))
        models = cls(artifact.version, arrays["video_ids"], arrays["item_vectors"],
                     hashtags=KeyedVectors(arrays["hashtag_ids"], arrays["hashtag_vectors"]),
                     sounds=KeyedVectors(arrays["sound_ids"], arrays["sound_vectors"]),
                     creators=KeyedVectors(arrays["creator_ids"], arrays["creator_vectors"]),
                     fold_in=fold, cowatch=cowatch, predictor=load_predictor(artifact))
        models.attach(catalog)
        return models

    def attach(self, catalog: Catalog) -> None:
        """Lay vectors over every catalog row and build the index."""
        rows = np.arange(catalog.size, dtype=np.int64)
        vectors, known = self._vectors_for(catalog, rows)
        self.table = np.zeros((max(catalog.size, 1024), self.dim), dtype=np.float32)
        self.known = np.zeros(len(self.table), dtype=bool)
        self.table[rows] = vectors
        self.known[rows] = known
        training = vectors[known] if known.any() else self.trained.vectors
        self.index = VectorIndex(self.dim, training, ivf_min_items=self.ivf_min_items, nprobe=self.nprobe)
        self.index.add(rows[known], vectors[known])
        self.rows_covered = catalog.size
        self._cowatch_catalog_rows(catalog)

    def catalog_grew(self, catalog: Catalog, rows: list[int]) -> None:
        rows_array = np.asarray([r for r in rows if r >= self.rows_covered], dtype=np.int64)
        if len(rows_array) == 0:
            return
        if catalog.size > len(self.table):
            grown = max(catalog.size, 2 * len(self.table))
            table = np.zeros((grown, self.dim), dtype=np.float32)
            table[: len(self.table)] = self.table
            known = np.zeros(grown, dtype=bool)
            known[: len(self.known)] = self.known
            self.table, self.known = table, known
        vectors, known = self._vectors_for(catalog, rows_array)
        self.table[rows_array] = vectors
        self.known[rows_array] = known
        if self.index is not None:
            self.index.add(rows_array[known], vectors[known])
        self.rows_covered = max(self.rows_covered, int(rows_array.max()) + 1)

    def _vectors_for(self, catalog: Catalog, rows: np.ndarray, chunk: int = 50_000) -> tuple[np.ndarray, np.ndarray]:
        vectors = np.zeros((len(rows), self.dim), dtype=np.float32)
        known = np.zeros(len(rows), dtype=bool)
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            trained, found = self.trained.lookup(catalog.video_ids[part])
            vectors[start:start + len(part)] = trained
            known[start:start + len(part)] = found
            cold = np.flatnonzero(~found)
            if len(cold):
                cold_rows = part[cold]
                tag_vectors, tag_found = self.hashtags.lookup(catalog.hashtags[cold_rows])
                tag_vectors = tag_vectors.reshape(len(cold), -1, self.dim)
                tag_found = tag_found.reshape(len(cold), -1)
                sound_vectors, sound_found = self.sounds.lookup(catalog.sound_ids[cold_rows])
                creator_vectors, creator_found = self.creators.lookup(catalog.creator_ids[cold_rows])
                total = tag_vectors.sum(axis=1) + sound_vectors + creator_vectors
                count = tag_found.sum(axis=1) + sound_found + creator_found
                has = count > 0
                vectors[start + cold[has]] = total[has] / count[has, None]
                known[start + cold[has]] = True
        return vectors, known

    # ---- per request ----------------------------------------------------------------------------------
    def user_vector(self, viewer: ViewerState, catalog: Catalog) -> np.ndarray | None:
        key = ("user_vector", self.version)
        cached = viewer.cache.get("user_vector")
        if isinstance(cached, tuple) and cached[0] == (key, viewer.version):
            return cached[1]
        vector = self._fold(viewer, catalog)
        viewer.cache["user_vector"] = ((key, viewer.version), vector)
        return vector

    def _fold(self, viewer: ViewerState, catalog: Catalog) -> np.ndarray | None:
        history = viewer.positive_history()
        if not history:
            return None
        rows = catalog.rows_of(video for video, _ in history)
        grades = np.array([g for _, g in history], dtype=np.float64)
        usable = rows >= 0
        usable[usable] &= self.known[rows[usable]]
        if not usable.any():
            return None
        Y = self.table[rows[usable]].astype(np.float64)
        values = np.ones(usable.sum()) if self.fold_in.binary else grades[usable]
        eye = np.eye(self.dim)
        if self.fold_in.method == "als":
            confidence = self.fold_in.alpha * values
            A = self.gram + (Y.T * (confidence - 1.0)) @ Y + self.fold_in.regularization * eye
            b = confidence @ Y
        else:
            A = self.gram + self.fold_in.regularization * eye
            b = values @ Y
        return np.linalg.solve(A, b).astype(np.float32)

    def similarity(self, request: SourceRequest, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cosine similarity of the viewer and each row, and whether both vectors exist."""
        vector = request.user_vector()
        if vector is None or len(rows) == 0:
            return np.zeros(len(rows)), np.zeros(len(rows))
        if int(rows.max()) < len(self.known):  # the usual case: every row is laid over the table
            known = self.known[rows]
            videos = self.table[rows]
            if not known.all():
                videos[~known] = 0.0
        else:
            inside = rows < len(self.known)
            known = np.zeros(len(rows), dtype=bool)
            known[inside] = self.known[rows[inside]]
            videos = np.zeros((len(rows), self.dim), dtype=np.float32)
            videos[known] = self.table[rows[known]]
        # ``np.linalg.norm(videos, axis=1)`` computed as it computes it, without its copy (``conj``) and checks.
        norms = np.sqrt(np.add.reduce(videos * videos, axis=1)) * (np.linalg.norm(vector) or 1.0)
        sim = np.where(norms > 0, videos @ vector / np.where(norms > 0, norms, 1.0), 0.0)
        return sim.astype(np.float64), known.astype(np.float64)

    def cowatch_candidates(self, request: SourceRequest, seeds_kept: int = 20) -> tuple[np.ndarray, np.ndarray]:
        cached = request.cache.get("cowatch")
        if cached is not None:
            return cached
        result = (np.zeros(0, dtype=np.int64), np.zeros(0))
        viewer, index = request.viewer, self.cowatch
        if viewer is not None and index is not None and viewer.completions and len(index.video_ids):
            recent = list(viewer.completions)[-seeds_kept:]
            ids = np.array([video for _, video in recent], dtype=np.int64)
            sorted_ids = self._cowatch_sorted_ids
            position = np.minimum(sorted_ids.searchsorted(ids), len(sorted_ids) - 1)
            found = sorted_ids[position] == ids
            if found.any():
                seeds = self._cowatch_order[position[found]]
                # Newest finish weighs 1, each older one 0.85 times the next.
                weights = 0.85 ** np.arange(len(ids) - 1, -1, -1, dtype=np.float64)[found]
                items, scores = index.neighbours_of(seeds, weights)
                rows = self._cowatch_catalog_rows(request.catalog)[items]
                keep = rows >= 0
                result = (rows[keep], scores[keep])
        # Links made since the model was trained (openfyp.realtime), added to the trained ones.
        result = merge_scores(result, online_cowatch(request, seeds_kept))
        request.cache["cowatch"] = result
        return result

    def _cowatch_catalog_rows(self, catalog: Catalog) -> np.ndarray:
        """Catalog rows of the co-watch index's videos, resolved once; rows never move, so only videos not
        yet in the catalog are looked up again, and only when the catalog has grown."""
        rows, resolved_in, size = self._cowatch_rows
        if self.cowatch is None or (resolved_in is catalog and size == catalog.size):
            return rows
        if resolved_in is not catalog:
            rows = np.full(len(rows), -1, dtype=np.int64)
        missing = np.flatnonzero(rows < 0)
        if len(missing):
            rows = rows.copy()
            rows[missing] = catalog.rows_of(self.cowatch.video_ids[missing])
        self._cowatch_rows = (rows, catalog, catalog.size)
        return rows

    def cowatch_scores(self, request: SourceRequest, rows: np.ndarray) -> np.ndarray:
        found_rows, scores = self.cowatch_candidates(request)
        out = np.zeros(len(rows))
        if len(found_rows) == 0:
            return out
        order = found_rows.argsort()
        sorted_rows, sorted_scores = found_rows[order], scores[order]
        position = np.minimum(sorted_rows.searchsorted(rows), len(sorted_rows) - 1)
        hit = sorted_rows[position] == rows
        out[hit] = sorted_scores[position[hit]]
        return out


def load_predictor(artifact: ServableArtifact) -> BoostedPredictor:
    import lightgbm as lgb

    boosters = {}
    ranker_dir = artifact.path / RANKER_DIR
    if ranker_dir.is_dir():
        for path in sorted(ranker_dir.glob("*.txt")):
            boosters[path.stem] = lgb.Booster(model_file=str(path))
    return BoostedPredictor(artifact.version, boosters, artifact.manifest.feature_names)
