"""Which Salesforce items are imported: per object type on or off, and either all items or only
the checked ones; activities on or off. Unselecting archives, reselecting restores."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidRequestError
from ..salesforce_ids import to_18
from .objects import ACTIVITIES, RECORDS

MODES = ("all", "selected")
MAX_IDS = 10_000


def default_selection() -> dict[str, Any]:
    return {
        "objects": {o.sobject: {"enabled": True, "mode": "all", "ids": []} for o in RECORDS},
        "activities": True,
    }


def parse_selection(
    current: dict[str, Any], objects: dict[str, Any], activities: bool
) -> dict[str, Any]:
    """The new selection from a request body (objects it leaves out keep their setting)."""
    known = {o.sobject for o in RECORDS}
    result: dict[str, Any] = {"objects": dict(current["objects"]), "activities": activities}
    for name, value in objects.items():
        field = f"objects.{name}"
        if name not in known:
            raise InvalidRequestError(f"{field}: only {', '.join(sorted(known))} can be selected.")
        if not isinstance(value, dict):
            raise InvalidRequestError(f"{field} must be an object.")
        unknown = sorted(set(value) - {"enabled", "mode", "ids"})
        if unknown:
            raise InvalidRequestError(f"{field}.{unknown[0]} is not a known field.")
        enabled = value.get("enabled", True)
        if not isinstance(enabled, bool):
            raise InvalidRequestError(f"{field}.enabled must be true or false.")
        mode = value.get("mode", "all")
        if mode not in MODES:
            raise InvalidRequestError(f"{field}.mode must be one of: all, selected.")
        raw_ids = value.get("ids", [])
        if not isinstance(raw_ids, list):
            raise InvalidRequestError(f"{field}.ids must be a list of Salesforce ids.")
        if len(raw_ids) > MAX_IDS:
            raise InvalidRequestError(f"{field}.ids may hold at most {MAX_IDS} ids.")
        ids = []
        for i, raw in enumerate(raw_ids):
            full = to_18(raw) if isinstance(raw, str) else None
            if full is None:
                raise InvalidRequestError(
                    f"{field}.ids[{i}] is not a 15- or 18-character Salesforce id."
                )
            ids.append(full)
        result["objects"][name] = {"enabled": enabled, "mode": mode, "ids": sorted(set(ids))}
    return result


def selected_ids(selection: dict[str, Any], sobject: str) -> set[str] | None:
    """The ids to import for an object type, or None for all of them."""
    entry = selection["objects"][sobject]
    return set(entry["ids"]) if entry["mode"] == "selected" else None


def changed_objects(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Object types whose next read must be a full one (their cursors are reset): those whose
    setting changed, and the activities (`Task`, `Event`) when they were switched or when the
    records they hang below changed. A parent checked later, turned on, or read whole again
    then brings its activities, however old; one unchecked takes them along to the archive."""
    changed = [name for name in new["objects"] if old["objects"].get(name) != new["objects"][name]]
    if changed or old.get("activities") != new.get("activities"):
        changed += [o.sobject for o in ACTIVITIES]
    return changed
