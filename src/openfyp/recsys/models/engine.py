"""openfyp's two-stage engine: several candidate sources, then a learned ranker over their union.

Stage one asks each source (EASE on presence, sharpened by same-sitting runs, and on graded values;
RP3beta, item-KNN, ALS embeddings, sequential co-visitation, popularity) for its top candidates. Stage
two scores the union: a base score sums the sources' per-user z-scores with blend weights, and a LightGBM
ranker (lambdarank) learns corrections to it from each source's z-score and rank plus item, user and
time statistics.

Everything learned here comes from training data only: a slice of each user's training interactions is
hidden, the sources are fitted on the rest, and the blend weights (coordinate ascent on NDCG@10) and the
trees learn to put the hidden items on top of the candidates those sources propose. Then the sources
are refitted on everything, ready to serve. Which way of combining (blend only, blend + trees, or a
fixed blend) is a hyperparameter, picked on the validation split like every baseline's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field, field_validator

from openfyp.recsys.models.base import ModelConfig, Recommender, RecsysModelError, mask_excluded, top_k_from_scores
from openfyp.recsys.models.covisitation import CoVisitationConfig, CoVisitationRecommender
from openfyp.recsys.models.ease import EASEConfig, EASERecommender
from openfyp.recsys.models.factors import ALSConfig, ALSRecommender, BPRConfig, BPRRecommender
from openfyp.recsys.models.features import InteractionStats, stat_features
from openfyp.recsys.models.neighbors import ItemKNNConfig, ItemKNNRecommender, RP3BetaConfig, RP3BetaRecommender
from openfyp.recsys.models.popularity import PopularityConfig, PopularityRecommender
from openfyp.recsys.models.ranker import LearnedRanker, RankerConfig

SOURCE_CLASSES: dict[str, type[Recommender]] = {
    "ease": EASERecommender, "ease_graded": EASERecommender, "rp3beta": RP3BetaRecommender, "itemknn": ItemKNNRecommender,
    "als": ALSRecommender, "bpr": BPRRecommender, "popularity": PopularityRecommender,
    "covisit": CoVisitationRecommender,
}
RANK_CAP = 1000
RANKER_ONLY_FIELDS = ("ranker", "use_trees", "learn_blend", "base_blend")


class OpenfypConfig(ModelConfig):
    sources: list[str] = Field(default_factory=lambda: ["ease", "ease_graded", "rp3beta", "itemknn", "als",
                                                         "covisit", "popularity"])
    ease: EASEConfig = EASEConfig(l2=400.0, window_rows=(40, 100))
    ease_graded: EASEConfig = EASEConfig(l2=800.0, binary=False, value_transform="sqrt", window_rows=(40, 100))
    rp3beta: RP3BetaConfig = RP3BetaConfig(alpha=0.8, beta=0.5, k=200)
    itemknn: ItemKNNConfig = ItemKNNConfig(k=50, shrink=10.0)
    als: ALSConfig = ALSConfig(factors=64, regularization=1.0)
    bpr: BPRConfig = BPRConfig()
    popularity: PopularityConfig = PopularityConfig()
    covisit: CoVisitationConfig = CoVisitationConfig(window=3)
    base_blend: dict[str, float] = Field(default_factory=lambda: {"ease": 1.0},
                                         description="Per-user z-scored sources summed into the ranker's "
                                                     "starting score; the trees learn corrections to it.")
    learn_blend: bool = Field(True, description="Tune base_blend on the hidden training labels first.")
    use_trees: bool = Field(True, description="False: rank by the blend alone.")
    candidates_per_source: int = Field(100, ge=1, description="How many items each source proposes.")
    label_fraction: float = Field(0.125, gt=0, lt=1, description="Share of each user's train hidden as labels.")
    label_rounds: int = Field(1, ge=1, description="Independent hidden slices stacked into the ranker's data.")
    ranker: RankerConfig = RankerConfig()
    seed: int = 0

    @field_validator("sources")
    @classmethod
    def _known_sources(cls, sources: list[str]) -> list[str]:
        unknown = [s for s in sources if s not in SOURCE_CLASSES]
        if unknown or not sources:
            raise ValueError(f"sources must be among {', '.join(SOURCE_CLASSES)}")
        return list(dict.fromkeys(sources))

    def source_config(self, name: str) -> ModelConfig:
        config = getattr(self, name)
        if "seed" in type(config).model_fields:
            config = config.model_copy(update={"seed": self.seed})
        return config


class SourceBank:
    """The candidate sources fitted on one matrix, with that matrix's statistics."""

    def __init__(self, config: OpenfypConfig, train: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> None:
        self.names = list(config.sources)
        self.sources = {name: SOURCE_CLASSES[name](config.source_config(name)).fit(train, timestamps=timestamps)
                        for name in self.names}
        self.stats = InteractionStats.build(train, timestamps)
        self.train = train

    def dense_scores(self, users: np.ndarray, history: sp.csr_matrix | None) -> dict[str, np.ndarray]:
        return {name: source.score_all(users, history) for name, source in self.sources.items()}


@dataclass
class CandidateBatch:
    """Candidate pairs of a batch of users: ``rows`` index into the batch, contiguous per user."""

    rows: np.ndarray
    items: np.ndarray
    features: np.ndarray


def _ranks(scores: np.ndarray, cap: int) -> np.ndarray:
    """Rank (0 = best) of every column within its row, capped: columns beyond ``cap`` get ``cap``."""
    n, m = scores.shape
    cap = min(cap, m)
    ranks = np.full((n, m), float(cap), dtype=np.float32)
    top = np.argpartition(-scores, cap - 1, axis=1)[:, :cap] if cap < m else np.tile(np.arange(m), (n, 1))
    top_scores = np.take_along_axis(scores, top, axis=1)
    order = np.argsort(-top_scores, axis=1, kind="stable")
    ordered = np.take_along_axis(top, order, axis=1)
    np.put_along_axis(ranks, ordered, np.arange(cap, dtype=np.float32)[None, :].repeat(n, axis=0), axis=1)
    return ranks


class OpenfypRecommender(Recommender):
    name = "openfyp"
    Config = OpenfypConfig
    batch_size = 256

    _bank: SourceBank
    _ranker: LearnedRanker

    # ---- training -----------------------------------------------------------------------------------
    def _fit(self, train: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> None:
        features, labels, groups, names = self._training_data(train, timestamps)
        self._bank = SourceBank(self.config, train, timestamps)
        self._train_ranker(features, labels, groups, names)

    def _training_data(self, train: sp.csr_matrix, timestamps: sp.csr_matrix | None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        rng = np.random.default_rng(self.config.seed)
        parts_x, parts_y, parts_g = [], [], []
        names: list[str] = []
        for round_index in range(self.config.label_rounds):
            fit_part, label_part = _hide_slice(train, self.config.label_fraction, rng)
            fit_times = _align(timestamps, fit_part) if timestamps is not None else None
            bank = SourceBank(self.config, fit_part, fit_times)
            users = np.flatnonzero(np.diff(label_part.indptr))
            for start in range(0, len(users), self.batch_size):
                batch = users[start:start + self.batch_size]
                cands, names = self._candidates(bank, batch, None, None)
                hits = _lookup(label_part, batch[cands.rows], cands.items)
                # A group without a positive teaches a ranking objective nothing.
                has_positive = np.bincount(cands.rows, weights=hits, minlength=len(batch)) > 0
                keep = has_positive[cands.rows]
                parts_x.append(cands.features[keep])
                parts_y.append(hits[keep].astype(np.float32))
                parts_g.append(batch[cands.rows[keep]] + round_index * self.n_users)
        if not parts_x or sum(len(x) for x in parts_x) == 0:
            raise RecsysModelError("too_little_data", "no user has enough interactions to train the ranker",
                                   "train")
        return np.concatenate(parts_x), np.concatenate(parts_y), np.concatenate(parts_g), names

    def _base_score(self, features: np.ndarray, names: list[str], blend: dict[str, float] | None = None
                    ) -> np.ndarray:
        base = np.zeros(len(features), dtype=np.float64)
        for source, weight in (blend if blend is not None else self.blend).items():
            if weight and f"{source}_z" in names:
                base += weight * features[:, names.index(f"{source}_z")]
        return base

    def _train_ranker(self, features: np.ndarray, labels: np.ndarray, groups: np.ndarray, names: list[str]) -> None:
        self.blend = dict(self.config.base_blend)
        if self.config.learn_blend:
            self.blend = learn_blend(features, labels, groups, names, self.config.sources, self.blend)
        self._ranker = LearnedRanker(self.config.ranker, self.config.seed)
        self._feature_names = names
        if self.config.use_trees:
            self._ranker.fit(features, labels, groups, names, base=self._base_score(features, names))

    @classmethod
    def fit_grid(cls, configs: list[dict[str, Any]], train: sp.csr_matrix, *,
                 timestamps: sp.csr_matrix | None = None) -> Iterator[tuple[dict[str, Any], Recommender]]:
        """Configs that differ only in how the ranker is trained share the sources and training candidates."""
        prepared_key, prepared = None, None
        for params in configs:
            model = cls(params)
            key = model.config.model_dump_json(exclude=set(RANKER_ONLY_FIELDS))
            if key != prepared_key:
                base = cls(params)
                base.fit_sources_only(train, timestamps)
                prepared_key, prepared = key, (base._bank, base._pending)
            bank, pending = prepared
            model._adopt(bank)
            model._train_ranker(*pending)
            yield params, model

    def fit_sources_only(self, train: sp.spmatrix, timestamps: sp.spmatrix | None) -> None:
        """Build the ranker's training data and the serving sources, leaving the ranker untrained."""
        train, times = self.checked_inputs(train, timestamps)
        self.n_users, self.n_items = train.shape
        self._train = train
        self._pending = self._training_data(train, times)
        self._bank = SourceBank(self.config, train, times)

    def _adopt(self, bank: SourceBank) -> None:
        self._train = bank.train
        self.n_users, self.n_items = bank.train.shape
        self._bank = bank

    # ---- candidates and features --------------------------------------------------------------------
    def _candidates(self, bank: SourceBank, users: np.ndarray, history: sp.csr_matrix | None,
                    exclude: sp.csr_matrix | None) -> tuple[CandidateBatch, list[str]]:
        rows_history = history if history is not None else _rows_or_empty(bank.train, users)
        dense = bank.dense_scores(users, history)
        blocked = np.zeros((len(users), bank.train.shape[1]), dtype=bool)
        hr = np.repeat(np.arange(len(users)), np.diff(rows_history.indptr))
        blocked[hr, rows_history.indices] = True
        if exclude is not None:
            probe = np.zeros(blocked.shape, dtype=np.float32)
            mask_excluded(probe, users, exclude)
            blocked |= np.isneginf(probe)
        n_cand = self.config.candidates_per_source
        proposed = np.zeros(blocked.shape, dtype=np.int16)
        ranks: dict[str, np.ndarray] = {}
        for name, scores in dense.items():
            scores[blocked] = -np.inf
            rank = _ranks(scores, RANK_CAP)
            ranks[name] = rank
            proposed += (rank < n_cand) & ~blocked
        rows, items = np.nonzero(proposed > 0)
        columns: dict[str, np.ndarray] = {}
        open_items = ~blocked
        n_open = np.maximum(open_items.sum(axis=1), 1)
        for name, scores in dense.items():
            picked = scores[rows, items]
            finite = np.where(open_items, scores, 0.0).astype(np.float64)
            mean = finite.sum(axis=1) / n_open
            std = np.sqrt(np.maximum((finite ** 2).sum(axis=1) / n_open - mean ** 2, 0.0)) + 1e-12
            finite_max = np.where(open_items, scores, -np.inf).max(axis=1)
            # Raw scores are left out: their scale moves with the amount of data a source saw, and the
            # ranker is trained on sources that saw less than the ones it serves with.
            columns[f"{name}_z"] = (picked - mean[rows]) / std[rows]
            columns[f"{name}_rank"] = np.log1p(ranks[name][rows, items])
            columns[f"{name}_score_vs_best"] = picked / np.where(finite_max[rows] > 0, finite_max[rows], 1.0)
        columns["n_sources"] = proposed[rows, items].astype(np.float32)
        user_ids = users[rows]
        known = (user_ids >= 0) & (user_ids < bank.train.shape[0]) & (history is None)
        columns.update(stat_features(bank.stats, user_ids, items, known))
        names = list(columns)
        features = np.column_stack([columns[n].astype(np.float32) for n in names]) if len(rows) else \
            np.zeros((0, len(names)), dtype=np.float32)
        return CandidateBatch(rows, items, features), names

    # ---- serving --------------------------------------------------------------------------------------
    def _score_batch(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        raise AssertionError("score_all is overridden")

    def _ranked(self, users: np.ndarray, history: sp.spmatrix | None, exclude: sp.csr_matrix | None
                ) -> tuple[CandidateBatch, np.ndarray]:
        self._require_fitted()
        rows = sp.csr_matrix(history, dtype=np.float32) if history is not None else None
        cands, names = self._candidates(self._bank, users, rows, exclude)
        if not len(cands.rows):
            return cands, np.zeros(0, np.float32)
        base = self._base_score(cands.features, names)
        if not self.config.use_trees:
            return cands, base.astype(np.float32)
        return cands, self._ranker.predict(cands.features, base=base)

    def score_all(self, user_indices: np.ndarray, history: sp.spmatrix | None = None) -> np.ndarray:
        """Ranker scores for candidates; every other item ranks below them, in popularity order."""
        users = np.asarray(user_indices, dtype=np.int64)
        out = np.empty((len(users), self.n_items), dtype=np.float32)
        for start in range(0, len(users), self.batch_size):
            batch = users[start:start + self.batch_size]
            batch_history = history[start:start + self.batch_size] if history is not None else None
            out[start:start + len(batch)] = self._dense_batch(batch, batch_history, None)
        return out

    def _dense_batch(self, users: np.ndarray, history: sp.spmatrix | None, exclude: sp.csr_matrix | None
                     ) -> np.ndarray:
        cands, scores = self._ranked(users, history, exclude)
        popularity = self._bank.stats.item_count
        fallback = (np.log1p(popularity) / (np.log1p(popularity.max()) + 1.0)).astype(np.float32)
        floor = float(scores.min()) if len(scores) else 0.0
        dense = np.broadcast_to(floor - 2.0 + fallback, (len(users), self.n_items)).copy()
        dense[cands.rows, cands.items] = scores
        return dense

    def top_k(self, user_indices: np.ndarray, k: int, exclude: sp.spmatrix | None = None,
              history: sp.spmatrix | None = None) -> tuple[np.ndarray, np.ndarray]:
        users = np.asarray(user_indices, dtype=np.int64)
        exclude_csr = sp.csr_matrix(exclude) if exclude is not None else None
        all_items = np.zeros((len(users), min(k, self.n_items)), dtype=np.int64)
        all_scores = np.zeros(all_items.shape, dtype=np.float32)
        for start in range(0, len(users), self.batch_size):
            batch = users[start:start + self.batch_size]
            batch_history = history[start:start + self.batch_size] if history is not None else None
            dense = self._dense_batch(batch, batch_history, exclude_csr)
            blocked_history = batch_history if batch_history is not None else _rows_or_empty(self._bank.train, batch)
            hr = np.repeat(np.arange(len(batch)), np.diff(sp.csr_matrix(blocked_history).indptr))
            dense[hr, sp.csr_matrix(blocked_history).indices] = -np.inf
            if exclude_csr is not None:
                mask_excluded(dense, batch, exclude_csr)
            items, values = top_k_from_scores(dense, k)
            all_items[start:start + len(batch)] = items
            all_scores[start:start + len(batch)] = values
        return all_items, all_scores

    def feature_importance(self) -> dict[str, float]:
        self._require_fitted()
        return self._ranker.feature_importance()

    @classmethod
    def search_space(cls) -> list[dict[str, Any]]:
        """Ways to combine the same sources; all share one preparation, validation picks one."""
        light = {"ease": 1.0, "ease_graded": 0.2}
        middle = {"ease": 1.0, "ease_graded": 0.3, "covisit": 0.6, "als": 0.3}
        wide = {"ease": 1.0, "ease_graded": 1.0, "covisit": 0.75, "als": 0.35}
        careful_trees = {"num_leaves": 7, "learning_rate": 0.02, "min_data_in_leaf": 200}
        fixed = {"use_trees": False, "learn_blend": False}
        return [
            {**fixed, "base_blend": {"ease": 1.0}},
            {**fixed, "base_blend": light},
            {**fixed, "base_blend": middle},
            {**fixed, "base_blend": wide},
            {"use_trees": False},
            {"learn_blend": False, "base_blend": middle, "ranker": careful_trees},
        ]


BLEND_STEPS = (0.0, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0)


def group_ndcg(scores: np.ndarray, labels: np.ndarray, groups: np.ndarray, k: int = 10) -> float:
    """Mean NDCG@k over groups of rows (ideal DCG over the positives present in each group)."""
    order = np.lexsort((-scores, groups))
    g, y = groups[order], labels[order]
    start = np.ones(len(g), dtype=bool)
    start[1:] = g[1:] != g[:-1]
    group_index = np.cumsum(start) - 1
    position = np.arange(len(g)) - np.flatnonzero(start)[group_index]
    gain = np.where(position < k, y / np.log2(position + 2.0), 0.0)
    dcg = np.bincount(group_index, weights=gain)
    positives = np.bincount(group_index, weights=y).astype(np.int64)
    ideal = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))])[np.minimum(positives, k)]
    valid = ideal > 0
    return float((dcg[valid] / ideal[valid]).mean()) if valid.any() else 0.0


def learn_blend(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, names: list[str],
                sources: list[str], start: dict[str, float], passes: int = 2) -> dict[str, float]:
    """Coordinate ascent on per-source weights of z-scored scores, maximising NDCG@10 on training labels."""
    columns = {s: features[:, names.index(f"{s}_z")].astype(np.float64) for s in sources if f"{s}_z" in names}
    weights = {s: float(start.get(s, 0.0)) for s in columns}
    if not any(weights.values()) and columns:
        weights[next(iter(columns))] = 1.0

    def total(w: dict[str, float]) -> np.ndarray:
        return sum((w[s] * columns[s] for s in columns if w[s]), np.zeros(len(features)))

    best = group_ndcg(total(weights), labels, groups)
    anchor = max(weights, key=lambda s: weights[s])
    for _ in range(passes):
        for source in columns:
            if source == anchor:
                continue
            for step in BLEND_STEPS:
                trial = {**weights, source: step}
                value = group_ndcg(total(trial), labels, groups)
                if value > best + 1e-6:
                    best, weights = value, trial
    return {s: w for s, w in weights.items() if w}


def _rows_or_empty(train: sp.csr_matrix, users: np.ndarray) -> sp.csr_matrix:
    known = (users >= 0) & (users < train.shape[0])
    rows = train[np.where(known, users, 0)]
    if not known.all():
        rows = sp.csr_matrix(sp.diags(known.astype(np.float32)) @ rows)
        rows.eliminate_zeros()
    return rows


def _hide_slice(train: sp.csr_matrix, fraction: float, rng: np.random.Generator
                ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Hide ``fraction`` of each user's entries (rounded down, at least one left visible)."""
    counts = np.diff(train.indptr)
    hidden_per_user = np.minimum(np.floor(counts * fraction).astype(np.int64), np.maximum(counts - 1, 0))
    keys = rng.random(train.nnz)
    rows = np.repeat(np.arange(train.shape[0]), counts)
    order = np.lexsort((keys, rows))
    position = np.empty(train.nnz, dtype=np.int64)
    position[order] = np.arange(train.nnz) - train.indptr[rows[order]]
    hidden = position < hidden_per_user[rows]
    visible = train.copy()
    visible.data = np.where(hidden, 0, visible.data).astype(visible.data.dtype)
    visible.eliminate_zeros()
    held = train.copy()
    held.data = np.where(hidden, held.data, 0).astype(held.data.dtype)
    held.eliminate_zeros()
    return visible.tocsr(), held.tocsr()


def _align(values: sp.csr_matrix, pattern: sp.csr_matrix) -> sp.csr_matrix:
    """``values`` read on exactly ``pattern``'s entries (explicit zeros kept, missing entries 0)."""
    rows = np.repeat(np.arange(pattern.shape[0], dtype=np.int64), np.diff(pattern.indptr))
    found = _lookup_values(values, rows, pattern.indices.astype(np.int64))
    return sp.csr_matrix((found, pattern.indices.copy(), pattern.indptr.copy()), shape=pattern.shape)


def _lookup_values(matrix: sp.csr_matrix, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    n_items = matrix.shape[1]
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    keys = rows * n_items + matrix.indices
    order = np.argsort(keys, kind="stable")
    keys, data = keys[order], np.asarray(matrix.data, dtype=np.float64)[order]
    probe = users.astype(np.int64) * n_items + items
    if keys.size == 0:
        return np.zeros(len(probe))
    pos = np.minimum(np.searchsorted(keys, probe), keys.size - 1)
    return np.where(keys[pos] == probe, data[pos], 0.0)


def _lookup(matrix: sp.csr_matrix, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """1.0 where ``(users[j], items[j])`` is stored in ``matrix``, else 0.0."""
    n_items = matrix.shape[1]
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    keys = np.sort(rows * n_items + matrix.indices)
    probe = users.astype(np.int64) * n_items + items
    if keys.size == 0:
        return np.zeros(len(probe))
    pos = np.minimum(np.searchsorted(keys, probe), keys.size - 1)
    return (keys[pos] == probe).astype(np.float64)
