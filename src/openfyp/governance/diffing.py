"""What changed between two model versions or two ranking configs, for the overseer's review."""

from __future__ import annotations

from typing import Any

from openfyp.governance.errors import InvalidInput
from openfyp.governance.releases import ReleaseKind, ReleaseSubject

_MISSING = object()
# Manifest keys that are shown in their own section (or are noise for a reviewer).
_MANIFEST_OWN_SECTIONS = {"metrics", "files", "version", "created_at"}


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key in sorted(value):
            flat.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return flat if flat or not prefix else {prefix: {}}
    return {prefix: value}


def flat_diff(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    left, right = flatten(a), flatten(b)
    changes = []
    for key in sorted(set(left) | set(right)):
        old, new = left.get(key, _MISSING), right.get(key, _MISSING)
        if old == new:
            continue
        change: dict[str, Any] = {"key": key,
                                  "change": "added" if old is _MISSING else "removed" if new is _MISSING else "changed",
                                  "a": None if old is _MISSING else old, "b": None if new is _MISSING else new}
        if isinstance(old, int | float) and isinstance(new, int | float) and not isinstance(old, bool) \
                and not isinstance(new, bool):
            change["delta"] = new - old
        changes.append(change)
    return changes


def diff_subjects(a: ReleaseSubject, b: ReleaseSubject) -> dict[str, Any]:
    if a.kind != b.kind:
        raise InvalidInput("incomparable", f"cannot compare a {a.kind.value} with a {b.kind.value}", "b")
    result: dict[str, Any] = {"kind": a.kind.value, "a": {"version": a.version, "digest": a.digest},
                              "b": {"version": b.version, "digest": b.digest}, "identical": a.digest == b.digest}
    if a.kind == ReleaseKind.config:
        result["config"] = flat_diff(a.content, b.content)
        return result
    manifest_a = {k: v for k, v in a.content.items() if k not in _MANIFEST_OWN_SECTIONS}
    manifest_b = {k: v for k, v in b.content.items() if k not in _MANIFEST_OWN_SECTIONS}
    result["manifest"] = flat_diff(manifest_a, manifest_b)
    result["metrics"] = flat_diff(a.content.get("metrics") or {}, b.content.get("metrics") or {})
    files_a, files_b = a.content.get("files") or {}, b.content.get("files") or {}
    result["files"] = {"added": sorted(set(files_b) - set(files_a)), "removed": sorted(set(files_a) - set(files_b)),
                       "changed": sorted(f for f in set(files_a) & set(files_b) if files_a[f] != files_b[f])}
    result["config"] = flat_diff(a.bundled_config or {}, b.bundled_config or {})
    return result
