"""The fixed vocabulary of trust and safety: what can be reported, why, and what a moderator can decide.

Severity orders the queue: a report about a child's safety outranks everything else, whatever the count
or reach of the other cases.
"""

from __future__ import annotations

import math
from enum import StrEnum


class TargetKind(StrEnum):
    video = "video"
    comment = "comment"
    user = "user"


class ReportReason(StrEnum):
    spam = "spam"
    harassment = "harassment"
    hate = "hate"
    violence = "violence"
    nudity = "nudity"
    minor_safety = "minor_safety"
    misinformation = "misinformation"
    copyright = "copyright"
    other = "other"


class CaseStatus(StrEnum):
    open = "open"
    decided = "decided"
    appealed = "appealed"
    closed = "closed"


class CaseOrigin(StrEnum):
    report = "report"
    keyword = "keyword"


class DecisionAction(StrEnum):
    remove = "remove"
    restrict = "restrict"  # stays up for whoever may see it, but is never recommended
    age_restrict = "age_restrict"  # only adults may see it
    dismiss = "dismiss"


# Why a moderator decided what they decided: a violated policy, or no violation at all.
NO_VIOLATION = "no_violation"
DECISION_REASONS = frozenset({*(r.value for r in ReportReason), NO_VIOLATION})

# Actions that act against the owner and may therefore be appealed.
APPEALABLE = frozenset({DecisionAction.remove, DecisionAction.restrict, DecisionAction.age_restrict})

# Which actions make sense for which target (a comment or an account cannot be age-restricted).
ACTIONS_FOR_TARGET = {
    TargetKind.video: frozenset(DecisionAction),
    TargetKind.comment: frozenset({DecisionAction.remove, DecisionAction.restrict, DecisionAction.dismiss}),
    TargetKind.user: frozenset({DecisionAction.remove, DecisionAction.restrict, DecisionAction.dismiss}),
}


class AppealOutcome(StrEnum):
    uphold = "uphold"
    overturn = "overturn"


class AppealStatus(StrEnum):
    pending = "pending"
    upheld = "upheld"
    overturned = "overturned"


SEVERITY: dict[str, int] = {
    ReportReason.minor_safety: 100,
    ReportReason.violence: 80,
    ReportReason.hate: 70,
    ReportReason.nudity: 60,
    ReportReason.harassment: 50,
    ReportReason.misinformation: 40,
    ReportReason.copyright: 30,
    ReportReason.spam: 20,
    ReportReason.other: 10,
}
# Content a keyword rule held is invisible until decided, so its author waits: it ranks like harassment.
KEYWORD_HOLD_SEVERITY = 50

# Added to every case with a minor-safety report. The rest of the score stays far below it (severity ≤ 100
# times two logarithmic factors), so those cases always come first.
URGENT_BAND = 1_000_000.0


def case_priority(*, severity: int, urgent: bool, reporters: int, reach: int) -> float:
    """Higher is more urgent: severity, scaled by how many people reported and how far the target reaches.

    Logarithms keep a brigade of reports or a viral video from drowning every other case: severity leads
    (a violent video nobody watched yet outranks spam with a thousand plays), count and reach order within it.
    """
    score = severity * (1.0 + math.log1p(max(reporters, 0))) * (1.0 + 0.5 * math.log10(1 + max(reach, 0)))
    return (URGENT_BAND if urgent else 0.0) + score
