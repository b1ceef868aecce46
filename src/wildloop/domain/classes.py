"""Project classes with stable ids.

Ids never change once given: renaming a class keeps its id, new classes get the next free id,
so labels and predictions stored as ids stay meaningful across config edits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# A classifier's "nothing here" output (an audio head's background class): never a project
# class, so a model that has it still fits the project's classes.
BACKGROUND = "background"


@dataclass(frozen=True)
class ClassDef:
    id: int
    name: str


class ClassMap:
    """An ordered, validated set of classes with lookups both ways."""

    def __init__(self, classes: Iterable[ClassDef]) -> None:
        self._classes = tuple(sorted(classes, key=lambda c: c.id))
        self._by_name = {c.name: c for c in self._classes}
        self._by_id = {c.id: c for c in self._classes}
        if len(self._by_name) != len(self._classes):
            raise ValueError("class names must be unique")
        if len(self._by_id) != len(self._classes):
            raise ValueError("class ids must be unique")
        for c in self._classes:
            if not c.name.strip() or c.name != c.name.strip():
                raise ValueError(f"class name {c.name!r} must be non-empty without outer spaces")
            if c.id < 0:
                raise ValueError(f"class id {c.id} must be >= 0")

    @classmethod
    def from_names(cls, names: Sequence[str]) -> ClassMap:
        """Give fresh ids 0..n-1 in the order named."""
        return cls(ClassDef(i, n) for i, n in enumerate(names))

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._classes)

    def __len__(self) -> int:
        return len(self._classes)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    @property
    def names(self) -> list[str]:
        return [c.name for c in self._classes]

    def id_of(self, name: str) -> int:
        try:
            return self._by_name[name].id
        except KeyError:
            raise KeyError(
                f"unknown class {name!r}; project classes are: {', '.join(self.names)}"
            ) from None

    def ids_of(self, names: Sequence[str]) -> list[int | None]:
        """The id of each name, None for names that are not classes here."""
        return [self._by_name[n].id if n in self._by_name else None for n in names]

    def name_of(self, class_id: int) -> str:
        return self._by_id[class_id].name

    def display_name(self, class_id: int | None) -> str | None:
        """The name to show for a stored class id: None for no class, ``class N`` for an id
        the project no longer has (labels and predictions outlive config edits)."""
        if class_id is None:
            return None
        found = self._by_id.get(class_id)
        return found.name if found else f"class {class_id}"

    def with_added(self, name: str) -> ClassMap:
        """Return a map with one more class, given the next free id."""
        next_id = max((c.id for c in self._classes), default=-1) + 1
        return ClassMap([*self._classes, ClassDef(next_id, name)])
