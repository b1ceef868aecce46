"""A wildloop project: one folder with ``wildloop.toml``, its database and its artifacts.

Nothing happens at import time; ``Project.init`` and ``Project.open`` are the explicit
entry points every CLI command, web app and worker goes through.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from wildloop.config import CONFIG_FILE, ClassEntry, ProjectConfig, load_config, save_config
from wildloop.domain.classes import ClassMap
from wildloop.domain.paths import map_root, path_from_text
from wildloop.errors import BadInput, Conflict
from wildloop.store import migrate
from wildloop.store.database import Database
from wildloop.store.tables import User

PROJECT_ENV = "WILDLOOP_PROJECT"
SUBDIRS = ("artifacts", "thumbnails", "exports", "runs")


def resolve_root(path: Path | str | None) -> Path:
    """The project folder: the given path, else $WILDLOOP_PROJECT, else the current folder."""
    chosen = path or os.environ.get(PROJECT_ENV) or "."
    return Path(chosen).expanduser().resolve()


@dataclass
class Project:
    root: Path
    config: ProjectConfig
    db: Database = field(repr=False)

    @classmethod
    def init(
        cls,
        root: Path,
        name: str,
        classes: list[str],
        modality: str = "image",
        database_url: str = "",
    ) -> Project:
        """Create the folder layout, the config and a migrated database."""
        root = root.expanduser().resolve()
        if (root / CONFIG_FILE).exists():
            raise Conflict(f"{root} is already a wildloop project ({CONFIG_FILE} exists)")
        names = [c.strip() for c in classes if c.strip()]
        try:
            class_map = ClassMap.from_names(names)
            config = ProjectConfig.model_validate(
                {
                    "name": name,
                    "modality": modality,
                    "classes": [ClassEntry(id=c.id, name=c.name) for c in class_map],
                    "database": {"url": database_url},
                }
            )
        except ValueError as exc:
            raise BadInput(f"cannot create project: {exc}") from exc
        root.mkdir(parents=True, exist_ok=True)
        for sub in SUBDIRS:
            (root / sub).mkdir(exist_ok=True)
        save_config(root, config)
        project = cls._connect(root, config)
        migrate.upgrade(project.db.engine)
        return project

    @classmethod
    def open(cls, root: Path | str | None = None, *, upgrade: bool = True) -> Project:
        """Open an existing project, bringing its database schema up to date."""
        resolved = resolve_root(root)
        project = cls._connect(resolved, load_config(resolved))
        if upgrade and not migrate.is_current(project.db.engine):
            migrate.upgrade(project.db.engine)
        return project

    @classmethod
    def _connect(cls, root: Path, config: ProjectConfig) -> Project:
        return cls(root=root, config=config, db=Database(config.database_url(root)))

    @property
    def classes(self) -> ClassMap:
        return self.config.class_map()

    def path(self, sub: str) -> Path:
        """A project subfolder (artifacts, thumbnails, exports, runs), created on demand."""
        folder = self.root / sub
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def media_file(self, stored: str) -> Path:
        """A media row's stored path as a file on this machine: decoded losslessly, then
        mapped through ``storage.media_roots`` (a worker sees the server's ``/mnt/cards`` at
        its own mount point). Every job that opens media files goes through here."""
        return map_root(path_from_text(stored), self.config.storage.media_roots)

    def save_config(self) -> None:
        save_config(self.root, self.config)

    def add_class(self, name: str) -> int:
        """Add a class with the next free stable id and persist the config."""
        if name in self.classes:
            raise Conflict(f"class {name!r} already exists")
        updated = self.classes.with_added(name)
        self.config.classes = [ClassEntry(id=c.id, name=c.name) for c in updated]
        self.save_config()
        return updated.id_of(name)

    def add_classes(self, names: Iterable[str]) -> None:
        """Add, in order, each name the project does not have yet (``--add-classes``)."""
        for name in dict.fromkeys(names):
            if name not in self.classes:
                self.add_class(name)

    def author(self, username: str) -> int:
        """The id of a user by name, creating a login-less author for imports and tools."""
        with self.db.session() as session:
            user_id = session.scalar(select(User.id).where(User.username == username))
            if user_id is None:
                user = User(username=username, role="reviewer", password_hash=None)
                session.add(user)
                session.flush()
                user_id = user.id
            return user_id

    def close(self) -> None:
        self.db.dispose()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
