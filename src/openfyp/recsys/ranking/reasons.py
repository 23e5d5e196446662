"""Why a video is on the page, in data (sources, largest score terms) and in one human sentence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openfyp.recsys.contracts import Reason

MAX_CONTRIBUTIONS = 3


def summary(sources: list[str], hints: Mapping[str, Any], *, exploration: bool, mode: str) -> str:
    if mode == "regional_popularity":
        if "trending" in sources or not sources:
            return "Popular in your region (this feed is not personalised)"
        # Filled in where too little is popular yet; still nothing about the viewer.
        return "New in your region (this feed is not personalised)"
    if exploration:
        if "fresh" in sources:
            return "A new upload, shown to help new videos find their viewers"
        return "Something different, to help you discover new things"
    creator = hints.get("creator")
    if "following" in sources and hints.get("followed") and creator:
        return f"New from @{creator}, whom you follow"
    tag = hints.get("tag")
    if tag and ("affinity" in sources or "embedding" in sources or "cowatch" in sources):
        if hints.get("tag_finished"):
            return f"Because you watched #{tag} videos to the end"
        return f"Because you enjoy #{tag} videos"
    sound = hints.get("sound")
    if sound and "affinity" in sources:
        return f"Because you like videos with the sound \u201c{sound}\u201d"
    if "cowatch" in sources:
        return "Often watched to the end by people who finished the videos you finished"
    if "embedding" in sources:
        return "Similar to videos you enjoyed"
    if "following" in sources and creator:
        return f"New from @{creator}, whom you follow"
    if "trending" in sources:
        return "Popular in your region"
    if "fresh" in sources:
        return "New in your region"
    return "Recommended for you"


def build_reason(sources: list[str], terms: Mapping[str, float], hints: Mapping[str, Any], *,
                 exploration: bool, mode: str, fatigue: float = 1.0) -> Reason:
    contributions = sorted(((name, float(value)) for name, value in terms.items()), key=lambda kv: (-kv[1], kv[0]))
    contributions = contributions[:MAX_CONTRIBUTIONS]
    if fatigue < 1.0:
        contributions.append(("fatigue", float(fatigue)))
    shown_sources = list(sources) + (["exploration"] if exploration else [])
    return Reason(sources=shown_sources, contributions=contributions,
                  summary=summary(sources, hints, exploration=exploration, mode=mode))
