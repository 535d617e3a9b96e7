"""What each user may read: objects (a profile's object permissions) and fields (field-level
security). A rule set without a user applies to every user; a user's own rule wins over it.

Salesforce hides what a user cannot read: an unreadable object is an unknown type to them
(INVALID_TYPE in SOQL, NOT_FOUND under ``sobjects/``) and a hidden field an unknown column.
"""

from __future__ import annotations

from dataclasses import dataclass

from .schema import sobject_type

# Fields no profile can hide.
_ALWAYS_READABLE = frozenset({"Id"})


class AccessError(ValueError):
    """An access rule about an unknown object or field, or a field that cannot be hidden."""


@dataclass(frozen=True)
class Visibility:
    """One user's view of the schema (the ``None`` user sees everything)."""

    rules: AccessRules
    user_id: str | None

    def object_readable(self, type_name: str) -> bool:
        return self.rules.object_readable(type_name, self.user_id)

    def field_readable(self, type_name: str, field_name: str) -> bool:
        return self.rules.field_readable(type_name, field_name, self.user_id)


class AccessRules:
    def __init__(self) -> None:
        # (user id or None for every user, object) → readable
        self._objects: dict[tuple[str | None, str], bool] = {}
        # (user id or None, object, field) → readable
        self._fields: dict[tuple[str | None, str, str], bool] = {}

    def for_user(self, user_id: str | None) -> Visibility:
        return Visibility(self, user_id)

    def set_object(self, type_name: str, readable: bool, user_id: str | None = None) -> str:
        """Make an object readable or not, for one user or (without one) for every user, whose
        own rules about it are then dropped. Returns the object's canonical name."""
        name = _object(type_name)
        if user_id is None:
            for key in [k for k in self._objects if k[1] == name]:
                del self._objects[key]
        self._objects[(user_id, name)] = readable
        return name

    def set_field(
        self, type_name: str, field_name: str, readable: bool, user_id: str | None = None
    ) -> tuple[str, str]:
        """Field-level security of one field, for one user or every user (as ``set_object``).
        Returns the canonical object and field names."""
        name = _object(type_name)
        sobject = sobject_type(name)
        field_ = None if sobject is None else sobject.field(field_name)
        if field_ is None:
            raise AccessError(f"{name} has no field {field_name}")
        if field_.name in _ALWAYS_READABLE:
            raise AccessError(f"{name}.{field_.name} is always readable")
        if user_id is None:
            for key in [k for k in self._fields if k[1:] == (name, field_.name)]:
                del self._fields[key]
        self._fields[(user_id, name, field_.name)] = readable
        return name, field_.name

    def object_readable(self, type_name: str, user_id: str | None) -> bool:
        if user_id is None:
            return True
        own = self._objects.get((user_id, type_name))
        return own if own is not None else self._objects.get((None, type_name), True)

    def field_readable(self, type_name: str, field_name: str, user_id: str | None) -> bool:
        if user_id is None:
            return True
        own = self._fields.get((user_id, type_name, field_name))
        if own is not None:
            return own
        return self._fields.get((None, type_name, field_name), True)


def _object(type_name: str) -> str:
    sobject = sobject_type(type_name)
    if sobject is None:
        raise AccessError(f"no object {type_name}")
    return sobject.name
