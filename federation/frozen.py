"""A base for the records every received change makes several of (a parsed change, an envelope):
plain classes with read-only (`Final`) attributes, equal, hashed and shown by their FIELDS.

Not frozen dataclasses: compiled by mypyc (pnyx.compiled), a frozen dataclass is still built
through its generated Python `__init__`, an `object.__setattr__` per field (about 1 µs per
record, measured), while a plain class is built by its compiled `__init__` in a few tens of
nanoseconds. Compiled, assigning an attribute raises AttributeError; as source, mypy --strict
refuses it (Final).
"""

from __future__ import annotations

from typing import ClassVar


class Frozen:
    """Equality, hash and repr by the attributes named in FIELDS (others take no part)."""

    FIELDS: ClassVar[tuple[str, ...]] = ()

    def values(self) -> tuple[object, ...]:
        return tuple([getattr(self, name) for name in self.FIELDS])

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and isinstance(other, Frozen) and self.values() == other.values()

    def __hash__(self) -> int:
        return hash(self.values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in zip(self.FIELDS, self.values(), strict=True))
        return f"{type(self).__name__}({shown})"
