"""The published ranking formula: a named, versioned JSON file loaded into a typed config.

``score = Σ task_weights[task] × prediction[task]``; the config also sets how many candidates each source
may propose, the exploration share, the fatigue after "not interested" and the diversity rules. Every page
records the config's version and digest, so an auditor can tell exactly which formula ranked it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from openfyp.recsys.contracts import RecsysError

CONFIGS_DIR = Path(__file__).resolve().parent.parent / "configs"
DEFAULT_CONFIG_NAME = "default"
TASKS: tuple[str, ...] = ("finish", "like", "share", "comment", "follow", "watch_ratio")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskWeights(_Strict):
    finish: float = Field(1.0, ge=0, le=100)
    like: float = Field(2.0, ge=0, le=100)
    share: float = Field(4.0, ge=0, le=100)
    comment: float = Field(2.0, ge=0, le=100)
    follow: float = Field(5.0, ge=0, le=100)
    watch_ratio: float = Field(1.0, ge=0, le=100)

    def as_dict(self) -> dict[str, float]:
        return {task: float(getattr(self, task)) for task in TASKS}


class SourceQuotas(_Strict):
    """The most candidates each source may propose for one request (0 switches a source off)."""

    following: int = Field(60, ge=0, le=5000)
    cowatch: int = Field(120, ge=0, le=5000)
    embedding: int = Field(150, ge=0, le=5000)
    trending: int = Field(120, ge=0, le=5000)
    fresh: int = Field(60, ge=0, le=5000)
    affinity: int = Field(100, ge=0, le=5000)

    def as_dict(self) -> dict[str, int]:
        return dict(self.model_dump())


class FatigueConfig(_Strict):
    """After "not interested" (or an early skip), the creator, hashtags and sound of that video lose score."""

    window_hours: float = Field(72.0, gt=0, description="Dismissals older than this are forgotten.")
    half_life_hours: float = Field(24.0, gt=0, description="How fast a dismissal's discount fades.")
    creator: float = Field(0.6, ge=0, le=1, description="Largest score fraction removed for the same creator.")
    hashtag: float = Field(0.3, ge=0, le=1)
    sound: float = Field(0.4, ge=0, le=1)
    early_skip_factor: float = Field(0.3, ge=0, le=1, description="An early skip counts this much of a dismissal.")
    floor: float = Field(0.05, gt=0, le=1, description="A candidate keeps at least this fraction of its score.")


class DiversityConfig(_Strict):
    no_adjacent_creator: bool = True
    no_adjacent_sound: bool = True


class ExplorationConfig(_Strict):
    share: float = Field(0.1, ge=0, le=0.5, description="Fraction of each page reserved for exploration.")
    fresh_max_age_hours: float = Field(72.0, gt=0)
    # Candidates whose affinity with the viewer is below this count as out of profile.
    out_of_profile_affinity: float = Field(0.05, ge=0)


class TrafficPoolsConfig(_Strict):
    """Staged exposure of new videos (filled in by the real-time work); kept in the signed config now."""

    enabled: bool = False
    stages: list[dict[str, Any]] = Field(default_factory=list)


class RankingConfig(_Strict):
    version: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    description: str = ""
    task_weights: TaskWeights = TaskWeights()
    source_quotas: SourceQuotas = SourceQuotas()
    exploration: ExplorationConfig = ExplorationConfig()
    fatigue: FatigueConfig = FatigueConfig()
    diversity: DiversityConfig = DiversityConfig()
    traffic_pools: TrafficPoolsConfig = TrafficPoolsConfig()
    trending_half_life_hours: float = Field(24.0, gt=0)
    # Candidates kept (best first by the cheap pre-ranker); only these meet the learned ranker, the re-ranker
    # and the replay log.
    shortlist: int = Field(60, ge=10, le=2000)
    exploration_pool: int = Field(20, ge=0, le=500)

    @property
    def exploration_share(self) -> float:
        return self.exploration.share

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def to_file(self, path: Path) -> None:
        path.write_text(json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n")


def parse_ranking_config(data: dict[str, Any] | str, *, origin: str = "ranking config") -> RankingConfig:
    try:
        if isinstance(data, str):
            data = json.loads(data)
        return RankingConfig.model_validate(data)
    except json.JSONDecodeError as exc:
        raise RecsysError("bad_ranking_config", f"{origin} is not valid JSON: {exc.msg}", "config") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or None
        raise RecsysError("bad_ranking_config", f"{origin}: {first.get('msg', 'invalid')}", field) from None


def load_ranking_config(source: str | Path = DEFAULT_CONFIG_NAME) -> RankingConfig:
    """A config by name from ``recsys/configs/`` (``"default"``) or by path to a JSON file."""
    path = Path(source)
    if path.suffix != ".json":
        path = CONFIGS_DIR / f"{source}.json"
    if not path.is_file():
        raise RecsysError("unknown_ranking_config", f"no ranking config at {path}", "config")
    return parse_ranking_config(path.read_text(), origin=str(path))
