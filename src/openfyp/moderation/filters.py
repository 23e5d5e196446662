"""Region-wide keyword filters: words or phrases that hold (queue before showing) or block (refuse) comments
and captions.

``check_comment`` and ``check_caption`` are pure reads; the caller acts on the ``Verdict``::

    verdict = filters.check_comment(db, region, body)
    verdict.raise_if_blocked("body")                # 422 keyword_blocked, naming the rule
    comment = Comment(..., moderation_state=verdict.initial_state)
    ...flush...
    if verdict.held:
        cases.hold_for_review(db, region=region, target_kind="comment", target_id=comment.id,
                              owner_id=comment.user_id, verdict=verdict)

Each process keeps one compiled matcher per region and scope, rebuilt only when the region's revision
counter (bumped in the same transaction as any filter change) moves, so a change made by another process
is seen on the next check.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from openfyp.moderation.text import WordMatcher, clean_pattern
from openfyp.platform.errors import Conflict, InvalidInput, NotFound
from openfyp.store.tables import KeywordFilter, KeywordFilterRevision, ModerationState

MAX_FILTERS_PER_REGION = 5000


class FilterScope(StrEnum):
    comments = "comments"
    captions = "captions"
    both = "both"


class FilterAction(StrEnum):
    hold = "hold"
    block = "block"


@dataclass(frozen=True)
class Verdict:
    """What the filters say about one text: ``allow``, ``hold`` or ``block``, and the rule that decided."""

    action: str
    rule_id: int | None = None
    pattern: str | None = None

    @property
    def blocked(self) -> bool:
        return self.action == FilterAction.block

    @property
    def held(self) -> bool:
        return self.action == FilterAction.hold

    @property
    def initial_state(self) -> str:
        """The ``moderation_state`` the new comment or video starts in."""
        return ModerationState.held.value if self.held else ModerationState.ok.value

    def raise_if_blocked(self, field: str | None = None) -> Verdict:
        if self.blocked:
            raise InvalidInput("keyword_blocked",
                               f"this text contains “{self.pattern}”, which is not allowed here "
                               f"(filter rule {self.rule_id})", field)
        return self


ALLOW = Verdict("allow")


@dataclass(frozen=True)
class _ScopeMatchers:
    block: WordMatcher
    hold: WordMatcher
    rules: dict[str, tuple[int, str]]  # pattern → (rule id, action)

    def verdict(self, text: str) -> Verdict:
        # A block anywhere in the text beats a hold, whichever comes first.
        for matcher, action in ((self.block, FilterAction.block), (self.hold, FilterAction.hold)):
            pattern = matcher.first(text)
            if pattern is not None:
                return Verdict(action.value, self.rules[pattern][0], pattern)
        return ALLOW


@dataclass(frozen=True)
class _RegionMatchers:
    revision: int
    comments: _ScopeMatchers
    captions: _ScopeMatchers


# Keyed by (database, region): one process may talk to several databases (tests, tools).
_compiled: dict[tuple[str, str], _RegionMatchers] = {}
_compile_lock = threading.Lock()


def _revision(db: Session, region: str) -> int:
    return db.scalar(select(KeywordFilterRevision.revision).where(KeywordFilterRevision.region == region)) or 0


def _cache_key(db: Session, region: str) -> tuple[str, str]:
    return str(db.get_bind().url), region


def _bump_revision(db: Session, region: str) -> None:
    bumped = db.execute(update(KeywordFilterRevision).where(KeywordFilterRevision.region == region)
                        .values(revision=KeywordFilterRevision.revision + 1)).rowcount
    if not bumped:
        db.add(KeywordFilterRevision(region=region, revision=1))
    db.flush()
    _compiled.pop(_cache_key(db, region), None)


def _scope_matchers(rules: list[KeywordFilter], scope: FilterScope) -> _ScopeMatchers:
    mine = [r for r in rules if r.scope in (scope.value, FilterScope.both.value)]
    return _ScopeMatchers(
        block=WordMatcher.of(r.pattern for r in mine if r.action == FilterAction.block),
        hold=WordMatcher.of(r.pattern for r in mine if r.action == FilterAction.hold),
        rules={r.pattern: (r.id, r.action) for r in mine},
    )


def _matchers(db: Session, region: str) -> _RegionMatchers:
    key = _cache_key(db, region)
    revision = _revision(db, region)
    cached = _compiled.get(key)
    if cached is not None and cached.revision == revision:
        return cached
    with _compile_lock:
        cached = _compiled.get(key)
        if cached is not None and cached.revision == revision:
            return cached
        rules = list(db.scalars(select(KeywordFilter).where(KeywordFilter.region == region)))
        built = _RegionMatchers(revision, _scope_matchers(rules, FilterScope.comments),
                                _scope_matchers(rules, FilterScope.captions))
        _compiled[key] = built
        return built


def check_comment(db: Session, region: str, text: str) -> Verdict:
    return _matchers(db, region).comments.verdict(text)


def check_caption(db: Session, region: str, caption: str, hashtags: list[str] | tuple[str, ...] = ()) -> Verdict:
    """Checks a caption and, if given separately, its hashtags (each as its own word)."""
    text = caption if not hashtags else caption + "\n" + " ".join(hashtags)
    return _matchers(db, region).captions.verdict(text)


# ---- managing the rules -------------------------------------------------------------------------------


def _check_choice(value: str, choices: type[StrEnum], field: str) -> str:
    try:
        return choices(value).value
    except ValueError:
        allowed = ", ".join(c.value for c in choices)
        raise InvalidInput(f"invalid_{field}", f"{field} must be one of {allowed}", field) from None


def list_filters(db: Session, region: str) -> list[KeywordFilter]:
    return list(db.scalars(select(KeywordFilter).where(KeywordFilter.region == region).order_by(KeywordFilter.id)))


def add_filter(db: Session, *, region: str, pattern: str, scope: str, action: str,
               created_by: int | None) -> KeywordFilter:
    cleaned = clean_pattern(pattern)
    scope = _check_choice(scope, FilterScope, "scope")
    action = _check_choice(action, FilterAction, "action")
    existing = db.scalar(select(KeywordFilter).where(KeywordFilter.region == region,
                                                     KeywordFilter.pattern == cleaned))
    if existing is not None:
        raise Conflict("keyword_exists", f"a filter for “{cleaned}” already exists (rule {existing.id})", "pattern")
    count = db.scalar(select(func.count()).select_from(KeywordFilter).where(KeywordFilter.region == region))
    if count >= MAX_FILTERS_PER_REGION:
        raise InvalidInput("too_many_filters", f"a region may have at most {MAX_FILTERS_PER_REGION} filters")
    rule = KeywordFilter(region=region, pattern=cleaned, scope=scope, action=action, created_by=created_by)
    db.add(rule)
    db.flush()
    _bump_revision(db, region)
    return rule


def remove_filter(db: Session, *, region: str, rule_id: int) -> KeywordFilter:
    rule = db.get(KeywordFilter, rule_id)
    if rule is None or rule.region != region:
        raise NotFound("keyword_filter", rule_id)
    db.delete(rule)
    db.flush()
    _bump_revision(db, region)
    return rule


def filter_out(rule: KeywordFilter) -> dict:
    return {"id": rule.id, "pattern": rule.pattern, "scope": rule.scope, "action": rule.action,
            "created_by": rule.created_by, "created_at": rule.created_at.isoformat() if rule.created_at else None}
