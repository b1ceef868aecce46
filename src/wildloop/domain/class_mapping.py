"""Reading another class list (a dataset's, a model's) as the project's classes.

``--map theirs=ours`` renames a class, ``--add-classes`` adds the names the project lacks;
without either, a name the project does not have is refused with the difference spelled out.
``wildloop import-labels``, ``wildloop model register`` and promotion share this, so they
agree on what fits and say it the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from wildloop.domain.classes import BACKGROUND, ClassMap
from wildloop.errors import BadInput


@dataclass(frozen=True)
class ClassMapping:
    """Renames (``theirs -> ours``) and whether names the project lacks are added to it."""

    rename: Mapping[str, str] = field(default_factory=dict)
    add_classes: bool = False

    @classmethod
    def parse(cls, pairs: Iterable[str] | None, *, add_classes: bool = False) -> ClassMapping:
        """From ``--map`` values, each ``theirs=ours``."""
        rename: dict[str, str] = {}
        for item in pairs or ():
            theirs, sep, ours = item.partition("=")
            theirs, ours = theirs.strip(), ours.strip()
            if not sep or not theirs or not ours:
                raise BadInput(f"--map takes 'theirs=ours', got {item!r}")
            rename[theirs] = ours
        return cls(rename, add_classes)

    def target(self, name: str) -> str:
        """The project class name ``name`` is read as."""
        return self.rename.get(name, name)


@dataclass(frozen=True)
class ClassFit:
    """How a class list lines up with the project's classes under a mapping."""

    names: tuple[str, ...]  # theirs, in their order
    targets: tuple[str, ...]  # the project class name each is read as
    unknown: tuple[str, ...]  # targets the project does not have
    missing: tuple[str, ...]  # project classes that nothing maps to
    project: tuple[str, ...]  # the project's class names
    unused: tuple[str, ...] = ()  # renamed names that are not in the list
    add_classes: bool = False

    def check(self, subject: str, outcome: str, *, lacking: bool = False) -> None:
        """Refuse (``BadInput``) names the project lacks unless they are to be added.

        ``subject`` names the list ("the dataset", "model 'x'"); ``outcome`` says what did not
        happen and how to go on; ``lacking`` also lists the project classes nothing maps to.
        """
        if self.unknown and not self.add_classes:
            raise BadInput(self.refusal(subject, outcome, lacking=lacking))

    def refusal(self, subject: str, outcome: str, *, lacking: bool = False) -> str:
        """The difference spelled out: what the project lacks, what the list lacks."""
        renamed = [f"{n}={t}" for n, t in zip(self.names, self.targets, strict=True) if n != t]
        return (
            f"{subject} uses classes the project does not have: {', '.join(self.unknown)}"
            + (f" (after --map {', '.join(renamed)})" if renamed else "")
            + f". Project classes: {', '.join(self.project)}"
            + (
                f"; project classes {subject} lacks: {', '.join(self.missing)}"
                if lacking and self.missing
                else ""
            )
            + f". {outcome}"
        )


MAP_HINT = "Map them with --map 'theirs=ours' or add them with --add-classes."


def fit_classes(names: Sequence[str], project: ClassMap, mapping: ClassMapping) -> ClassFit:
    """Line ``names`` up with ``project`` through ``mapping`` (nothing is changed here)."""
    targets = tuple(mapping.target(n) for n in names)
    return ClassFit(
        names=tuple(names),
        targets=targets,
        unknown=tuple(sorted(set(targets) - set(project.names) - {BACKGROUND})),
        missing=tuple(n for n in project.names if n not in targets),
        project=tuple(project.names),
        unused=tuple(n for n in mapping.rename if n not in names),
        add_classes=mapping.add_classes,
    )
