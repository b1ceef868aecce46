"""The database schema, as SQLAlchemy 2 typed models.

Human labels (label_revisions, label_boxes) and model output (prediction_sets, predictions)
live in separate tables: nothing that writes predictions touches a label row. Every schema
change here comes with an Alembic migration; tests check that the two agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from wildloop.domain.job_states import ACTIVE, CHUNK_STATES, JOB_STATES, sql_in
from wildloop.store.types import IdType, UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


# --- people ---------------------------------------------------------------------------


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    # NULL for authors that cannot log in (label importers, external tools).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="reviewer")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'reviewer', 'viewer', 'uploader')", name="role"),
    )


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


# --- where and when media were captured ---------------------------------------------------


class Camera(Base):
    """A camera at a place: one Camtrap DP deployment."""

    __tablename__ = "cameras"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    location: Mapped[str | None] = mapped_column(String(200))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    make: Mapped[str | None] = mapped_column(String(120))
    model: Mapped[str | None] = mapped_column(String(120))
    # Seconds added to the camera's clock to get true local time (fixes a wrong clock).
    clock_offset_seconds: Mapped[int] = mapped_column(Integer, default=0)
    # Location prior: the classes seen here (None: any) and the parent for the others.
    allowed_classes: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    rollup_class: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MediaSequence(Base):
    """Frames that belong together (a burst, an imported seq_id): they share one split."""

    __tablename__ = "sequences"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id"), index=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    # Camera-local times, like media.captured_at.
    started_at: Mapped[datetime | None] = mapped_column(DateTime())
    ended_at: Mapped[datetime | None] = mapped_column(DateTime())
    split: Mapped[str] = mapped_column(String(8))
    __table_args__ = (CheckConstraint("split IN ('train', 'val', 'test')", name="split"),)


class Media(Base):
    __tablename__ = "media"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    path: Mapped[str] = mapped_column(String(1000), unique=True)
    sha256: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8), default="image")
    status: Mapped[str] = mapped_column(String(12), default="ok")
    error: Mapped[str | None] = mapped_column(Text)
    bytes: Mapped[int | None] = mapped_column(IdType)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Float)
    sample_rate: Mapped[int | None] = mapped_column(Integer)
    channels: Mapped[int | None] = mapped_column(Integer)
    # A window (kind "window") is a span of its recording (parent_id), reviewed like an image.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    t_start: Mapped[float | None] = mapped_column(Float)
    t_end: Mapped[float | None] = mapped_column(Float)
    # Camera-local wall-clock time with the camera's clock offset applied (naive on purpose).
    captured_at: Mapped[datetime | None] = mapped_column(DateTime())
    captured_at_source: Mapped[str | None] = mapped_column(String(8))
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id"))
    sequence_id: Mapped[int | None] = mapped_column(ForeignKey("sequences.id"))
    frame_num: Mapped[int | None] = mapped_column(Integer)
    split: Mapped[str | None] = mapped_column(String(8))
    exif_make: Mapped[str | None] = mapped_column(String(120))
    exif_model: Mapped[str | None] = mapped_column(String(120))
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Review state, kept here for fast filters; the history lives in label_revisions/audit_log.
    label_revision: Mapped[int] = mapped_column(Integer, default=0)
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Main class of the current human label (see domain.labels.primary_class); NULL when
    # unreviewed or when the person saw no animal. Kept by review.labels.save_labels.
    label_class_id: Mapped[int | None] = mapped_column(Integer)
    marked: Mapped[str | None] = mapped_column(String(16))
    marked_at: Mapped[datetime | None]
    marked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    camera: Mapped[Camera | None] = relationship(lazy="raise")
    sequence: Mapped[MediaSequence | None] = relationship(lazy="raise")

    __table_args__ = (
        CheckConstraint("status IN ('ok', 'failed', 'duplicate')", name="status"),
        CheckConstraint("kind IN ('image', 'audio', 'window')", name="kind"),
        CheckConstraint("marked IS NULL OR marked IN ('missed', 'false_positive')", name="marked"),
        # One row per content among good media: a copy under another path is a duplicate.
        Index(
            "uq_media_sha256_ok",
            "sha256",
            unique=True,
            sqlite_where=text("status = 'ok'"),
            postgresql_where=text("status = 'ok'"),
        ),
        Index("ix_media_camera_time", "camera_id", "captured_at", "id"),
        Index("ix_media_sequence_frame", "sequence_id", "captured_at", "id"),
        Index("ix_media_status_id", "status", "id"),
        Index("ix_media_split_id", "split", "id"),
        Index("ix_media_reviewed_id", "reviewed", "id"),
        Index("ix_media_marked_id", "marked", "id"),
        # A recording's windows in time order; all items of one kind (migration 0006).
        Index("ix_media_parent_start", "parent_id", "t_start"),
        Index("ix_media_kind_id", "kind", "id"),
        # Grid filters and sorts (migration 0003): reviewed items by class, any item by time,
        # a camera's items in ingest order.
        Index("ix_media_label_class_id", "label_class_id", "id"),
        Index("ix_media_captured_id", "captured_at", "id"),
        Index("ix_media_camera_id", "camera_id", "id"),
        # Analytics read every labelled item in camera-time order from this index alone
        # (migration 0010).
        Index(
            "ix_media_labelled_camera_time",
            "camera_id",
            "captured_at",
            "label_class_id",
            "status",
            sqlite_where=text("label_class_id IS NOT NULL"),
            postgresql_where=text("label_class_id IS NOT NULL"),
        ),
        # The marked-for-retraining list, newest mark first; only marked rows are indexed.
        Index(
            "ix_media_marked_at",
            "marked_at",
            "id",
            sqlite_where=text("marked IS NOT NULL"),
            postgresql_where=text("marked IS NOT NULL"),
        ),
    )


# --- models and what they predicted ---------------------------------------------------------


class ModelVersion(Base):
    """An immutable model: its artifact hash, classes and everything that produced it."""

    __tablename__ = "model_versions"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    task: Mapped[str] = mapped_column(String(16), default="detect")
    source: Mapped[str] = mapped_column(String(16))  # registered | trained | external
    artifact_sha256: Mapped[str | None] = mapped_column(String(64))
    artifact_format: Mapped[str | None] = mapped_column(String(16))  # pt | onnx
    onnx_sha256: Mapped[str | None] = mapped_column(String(64))
    classes: Mapped[list[Any]] = mapped_column(JSON)
    # The project class id per model class index, fixed at registration (--map/--add-classes);
    # None for external and older versions, whose classes are read by name.
    class_ids: Mapped[list[Any] | None] = mapped_column(JSON)
    imgsz: Mapped[int | None] = mapped_column(Integer)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    # A pipeline (task ``pipeline``) pairs one detector version with one crop classifier
    # version; both are fixed for good, so a pipeline's predictions record both (migration 0011).
    detector_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    classifier_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshots.id"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    code_version: Mapped[str | None] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    notes: Mapped[str | None] = mapped_column(Text)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelAlias(Base):
    """A movable name (champion, challenger) for one model version; moved in one UPDATE."""

    __tablename__ = "model_aliases"
    alias: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class PredictionSet(Base):
    """What one model version said about one media item; at most one per (media, version)."""

    __tablename__ = "prediction_sets"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE")
    )
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(8), default="ok")
    error: Mapped[str | None] = mapped_column(Text)
    # Denormalised summary of the set for fast grid filters (top class and its score).
    top_class_id: Mapped[int | None] = mapped_column(Integer)
    top_score: Mapped[float | None] = mapped_column(Float)
    count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The prediction_settings row the set was made under (NULL: made before migration 0016,
    # imported, or an audio head's). No foreign key: adding one would make SQLite copy this,
    # the largest table, and settings rows are never deleted.
    settings_id: Mapped[int | None] = mapped_column(IdType)
    __table_args__ = (
        UniqueConstraint("media_id", "model_version_id"),
        Index("ix_prediction_sets_version_media", "model_version_id", "media_id"),
        Index("ix_prediction_sets_version_class", "model_version_id", "top_class_id", "media_id"),
        # Confidence sorts and ranges in the grid, overall and per class (migration 0003).
        Index("ix_prediction_sets_version_score", "model_version_id", "top_score", "media_id"),
        Index(
            "ix_prediction_sets_version_class_score",
            "model_version_id",
            "top_class_id",
            "top_score",
            "media_id",
        ),
        CheckConstraint("status IN ('ok', 'failed')", name="status"),
    )


class PredictionSettings(Base):
    """The settings that shape a prediction set beyond the model (location priors, sequence
    smoothing, store thresholds, a pipeline's hand-off), stored once per distinct value and
    referenced by every set made under it (migration 0016)."""

    __tablename__ = "prediction_settings"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Prediction(Base):
    __tablename__ = "predictions"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    prediction_set_id: Mapped[int] = mapped_column(
        ForeignKey("prediction_sets.id", ondelete="CASCADE"), index=True
    )
    # Project class id when the model's class is a project class, else NULL with the name kept.
    class_id: Mapped[int | None] = mapped_column(Integer)
    class_name: Mapped[str] = mapped_column(String(120))
    score: Mapped[float] = mapped_column(Float)
    # A pipeline's box keeps its detector's score here; ``score`` is the classifier's.
    det_score: Mapped[float | None] = mapped_column(Float)
    x: Mapped[float | None] = mapped_column(Float)
    y: Mapped[float | None] = mapped_column(Float)
    w: Mapped[float | None] = mapped_column(Float)
    h: Mapped[float | None] = mapped_column(Float)
    t_start: Mapped[float | None] = mapped_column(Float)
    t_end: Mapped[float | None] = mapped_column(Float)


class Embedding(Base):
    """One item's vector from one embedder, computed once so retraining never re-embeds.

    ``vector`` is float16 little-endian, ``dim`` values; ``embedder`` names the backend and its
    version (``logmel-v1``, ``birdnet-2.4``, ``onnx:<sha12>``) so vectors from different
    models are never mixed.
    """

    __tablename__ = "embeddings"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    embedder: Mapped[str] = mapped_column(String(80))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (
        UniqueConstraint("media_id", "embedder"),
        Index("ix_embeddings_embedder_id", "embedder", "id"),
    )


class CropEmbedding(Base):
    """One predicted box's crop vector from one crop embedder (float16 little-endian).

    Kept apart from ``embeddings`` (one vector per item) because an image has many boxes;
    ``media_id`` is copied from the box's set so per-item reads need no join. Shared by the
    review queue's novelty, re-identification and crop classifier heads.
    """

    __tablename__ = "crop_embeddings"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    prediction_id: Mapped[int] = mapped_column(ForeignKey("predictions.id", ondelete="CASCADE"))
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    embedder: Mapped[str] = mapped_column(String(80))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (
        UniqueConstraint("prediction_id", "embedder"),
        Index("ix_crop_embeddings_embedder_id", "embedder", "id"),
        Index("ix_crop_embeddings_media_embedder", "media_id", "embedder"),
    )


# --- human labels -----------------------------------------------------------------------------


class LabelRevision(Base):
    """One save of a person's labels for one media item. Rows are never updated or deleted;
    the current labels are the revision whose number equals ``media.label_revision``."""

    __tablename__ = "label_revisions"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # True when the person says the item shows no animal (a reviewed empty frame).
    empty: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="review")  # review | import
    content_hash: Mapped[str] = mapped_column(String(64))
    boxes: Mapped[list[LabelBox]] = relationship(
        lazy="selectin", order_by="LabelBox.id", cascade="all"
    )
    __table_args__ = (UniqueConstraint("media_id", "revision"),)


class LabelBox(Base):
    __tablename__ = "label_boxes"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    revision_id: Mapped[int] = mapped_column(
        ForeignKey("label_revisions.id", ondelete="CASCADE"), index=True
    )
    # NULL only for a false-positive record (the model's box had no animal).
    class_id: Mapped[int | None] = mapped_column(Integer)
    x: Mapped[float | None] = mapped_column(Float)
    y: Mapped[float | None] = mapped_column(Float)
    w: Mapped[float | None] = mapped_column(Float)
    h: Mapped[float | None] = mapped_column(Float)
    t_start: Mapped[float | None] = mapped_column(Float)
    t_end: Mapped[float | None] = mapped_column(Float)
    # Frequency bounds (Hz) of a time-frequency box on an audio window's spectrogram.
    f_low: Mapped[float | None] = mapped_column(Float)
    f_high: Mapped[float | None] = mapped_column(Float)
    corrects_prediction_id: Mapped[int | None] = mapped_column(
        ForeignKey("predictions.id", ondelete="SET NULL")
    )
    # Why the person excluded this box from training (wrong_species, rear_end, poor_quality...).
    invalid_reason: Mapped[str | None] = mapped_column(String(40))
    missed: Mapped[bool] = mapped_column(Boolean, default=False)
    false_positive: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (Index("ix_label_boxes_class", "class_id", "revision_id"),)


# --- individuals ------------------------------------------------------------------------------


class Individual(Base):
    """A known animal: name, class (species and sex where the project has them), notes and a
    cover sighting. ``version`` grows with every edit: the optimistic check, as labels have.
    A merged individual keeps its row (``merged_into_id`` set) so the audit trail resolves."""

    __tablename__ = "individuals"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    class_id: Mapped[int] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text)
    # A sighting id; no foreign key so individuals and sightings do not reference each other.
    cover_sighting_id: Mapped[int | None] = mapped_column(IdType)
    version: Mapped[int] = mapped_column(Integer, default=1)
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("individuals.id", ondelete="SET NULL")
    )
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Sighting(Base):
    """One human box assigned to an individual, by a person or as a re-ID suggestion.

    A box belongs to at most one individual. ``class_id`` is the box's class when it was
    assigned, kept so the consistency checks read one table."""

    __tablename__ = "sightings"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    individual_id: Mapped[int] = mapped_column(ForeignKey("individuals.id", ondelete="CASCADE"))
    label_box_id: Mapped[int] = mapped_column(ForeignKey("label_boxes.id", ondelete="CASCADE"))
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    class_id: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(12), default="person")
    score: Mapped[float | None] = mapped_column(Float)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (
        UniqueConstraint("label_box_id"),
        Index("ix_sightings_individual_id", "individual_id", "id"),
        CheckConstraint("source IN ('person', 'suggestion')", name="source"),
    )


class LabelCropEmbedding(Base):
    """One human box's crop vector from one crop embedder (float16 little-endian), cut from
    the decoded image by the ``individual-embed`` job: what re-identification compares."""

    __tablename__ = "label_crop_embeddings"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    label_box_id: Mapped[int] = mapped_column(ForeignKey("label_boxes.id", ondelete="CASCADE"))
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    embedder: Mapped[str] = mapped_column(String(80))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("label_box_id", "embedder"),)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(80))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id", "id"),)


# --- long work --------------------------------------------------------------------------------


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(12), default="queued")
    progress_done: Mapped[int] = mapped_column(IdType, default=0)
    progress_total: Mapped[int | None] = mapped_column(IdType)
    rate: Mapped[float | None] = mapped_column(Float)
    eta_seconds: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    __table_args__ = (
        CheckConstraint(sql_in("state", JOB_STATES), name="state"),
        Index("ix_jobs_state_kind", "state", "kind"),
        # One training at a time per project, enforced by the database: a second queued or
        # running training job cannot be inserted, whichever process tries.
        Index(
            "uq_jobs_one_active_training",
            "kind",
            unique=True,
            sqlite_where=text(f"kind = 'train' AND {sql_in('state', ACTIVE)}"),
            postgresql_where=text(f"kind = 'train' AND {sql_in('state', ACTIVE)}"),
        ),
    )


class JobChunk(Base):
    """A slice of a job's work, claimed by one worker with a conditional UPDATE."""

    __tablename__ = "job_chunks"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(12), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    items_done: Mapped[int] = mapped_column(Integer, default=0)
    items_failed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        UniqueConstraint("job_id", "seq"),
        Index("ix_job_chunks_job_state", "job_id", "state"),
        CheckConstraint(sql_in("state", CHUNK_STATES), name="state"),
    )


# --- datasets and evaluations -----------------------------------------------------------------


class Snapshot(Base):
    """An immutable record of exactly which media and label revisions form a dataset."""

    __tablename__ = "snapshots"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))  # training | test
    content_hash: Mapped[str] = mapped_column(String(64))
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SnapshotItem(Base):
    __tablename__ = "snapshot_items"
    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey("snapshots.id", ondelete="CASCADE"), primary_key=True
    )
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id"), primary_key=True)
    split: Mapped[str] = mapped_column(String(8))
    # The human label revision used; NULL for a pseudo-label taken from a prediction set.
    label_revision_id: Mapped[int | None] = mapped_column(ForeignKey("label_revisions.id"))
    prediction_set_id: Mapped[int | None] = mapped_column(ForeignKey("prediction_sets.id"))
    content_hash: Mapped[str] = mapped_column(String(64))


class Evaluation(Base):
    """Metrics of one model version on one frozen test snapshot, computed by one evaluator."""

    __tablename__ = "evaluations"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("model_version_id", "snapshot_id"),)


class ClassThresholdSet(Base):
    """Per-class thresholds of one model version read from reviewed items, with the PR curve
    each was read from. Rows are never updated: reviews grow, so each computation is kept and
    the newest is the one ``thresholds apply`` writes into the project's config."""

    __tablename__ = "class_threshold_sets"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE")
    )
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    mode: Mapped[str] = mapped_column(String(16))  # precision | best_f1
    target_precision: Mapped[float | None] = mapped_column(Float)
    iou: Mapped[float] = mapped_column(Float)
    splits: Mapped[list[Any]] = mapped_column(JSON)
    items: Mapped[int] = mapped_column(Integer)
    # {class name: {"threshold": {...ThresholdChoice}, "curve": {thresholds, precision, recall}}}
    classes: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (Index("ix_class_threshold_sets_version", "model_version_id", "id"),)


class RepeatDecision(Base):
    """One person's decision on a repeat group of one camera. A false-positive decision is a
    region (the group's median box and the overlap that counts as the same place) that
    suppresses the model's boxes there on that camera, now and in later predictions; the
    frames it labelled as hard negatives are kept in ``labelled`` so an undo restores them.
    Undo sets ``undone_at``; rows are never deleted."""

    __tablename__ = "repeat_decisions"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    camera: Mapped[str] = mapped_column(String(200))
    group_key: Mapped[int] = mapped_column(IdType)  # the group's first prediction id
    decision: Mapped[str] = mapped_column(String(16))  # false_positive | real
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    w: Mapped[float] = mapped_column(Float)
    h: Mapped[float] = mapped_column(Float)
    iou: Mapped[float] = mapped_column(Float)
    # Before 0018: [[media_id, revision written], ...]; since, the frames are rows of
    # repeat_decision_frames (migration 0018 moved them) and this stays empty.
    labelled: Mapped[list[Any]] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The jobs labelling (and restoring, after an undo) a group too large for one request.
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    undo_job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    __table_args__ = (Index("ix_repeat_decisions_camera", "camera", "decision"),)


class RepeatDecisionFrame(Base):
    """One frame a false-positive decision labelled as a hard negative: the revision it wrote
    (an undo restores the one before, unless someone saved since) and, after an undo, whether
    it was ``restored`` or ``kept``. One row per frame and decision: a chunk of the labelling
    job that runs again finds its frames here and writes nothing twice."""

    __tablename__ = "repeat_decision_frames"
    decision_id: Mapped[int] = mapped_column(ForeignKey("repeat_decisions.id"), primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id"), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
    undo_outcome: Mapped[str | None] = mapped_column(String(16))  # restored | kept


class ShadowComparison(Base):
    """What the champion and a challenger each said about one item both predicted (a shadow
    run), as the ``shadow-agreement`` job judged it: the rows the Models page counts and the
    disagreement list pages through. Rebuilt for a pair when the thresholds change."""

    __tablename__ = "shadow_comparisons"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    champion_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE")
    )
    challenger_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE")
    )
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    # agree | champion_only | challenger_only | different_class | different_boxes
    outcome: Mapped[str] = mapped_column(String(16))
    champion_class: Mapped[str | None] = mapped_column(String(120))
    champion_score: Mapped[float | None] = mapped_column(Float)
    challenger_class: Mapped[str | None] = mapped_column(String(120))
    challenger_score: Mapped[float | None] = mapped_column(Float)
    per_class: Mapped[dict[str, Any]] = mapped_column(JSON)  # class name -> agreed (bool)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (
        UniqueConstraint(
            "champion_version_id",
            "challenger_version_id",
            "media_id",
            name="uq_shadow_comparisons_pair_media",
        ),
        # The disagreement list: one pair, one outcome or all but "agree", by media id.
        Index(
            "ix_shadow_comparisons_pair_outcome",
            "champion_version_id",
            "challenger_version_id",
            "outcome",
            "media_id",
        ),
    )


class LabelIssue(Base):
    """A reviewed box whose given class the out-of-fold crop classifier doubts (confident
    learning, ``wildloop.curation``), or a frame reviewed as empty where the champion is sure
    of an animal (no label box, ``given_class_id`` NULL, the champion's box in
    ``prediction_id``): both opinions, for a second reviewer to keep or change. A refresh
    replaces the open rows; decided rows stay as the record of who decided what."""

    __tablename__ = "label_issues"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    label_box_id: Mapped[int | None] = mapped_column(
        ForeignKey("label_boxes.id", ondelete="CASCADE")
    )
    prediction_id: Mapped[int | None] = mapped_column(
        ForeignKey("predictions.id", ondelete="SET NULL")
    )
    revision: Mapped[int] = mapped_column(Integer)  # the media's label revision it was found at
    box_index: Mapped[int] = mapped_column(Integer)  # the box's place in that revision
    labelled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    split: Mapped[str | None] = mapped_column(String(8))
    given_class_id: Mapped[int | None] = mapped_column(Integer)  # NULL: reviewed as empty
    suggested_class_id: Mapped[int] = mapped_column(Integer)
    given_probability: Mapped[float] = mapped_column(Float)
    suggested_probability: Mapped[float] = mapped_column(Float)
    quality: Mapped[float] = mapped_column(Float)  # cleanlab's label quality, low = doubtful
    rank: Mapped[int] = mapped_column(Integer)  # 1 = most doubtful
    status: Mapped[str] = mapped_column(String(8), default="open")  # open | kept | changed
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (
        CheckConstraint("status IN ('open', 'kept', 'changed')", name="status"),
        Index("ix_label_issues_status_rank", "status", "rank"),
        Index("ix_label_issues_label_box", "label_box_id"),
    )


# --- analytics kept up to date as labels are saved (analytics.maintained) -----------------------


class AnalyticsDetection(Base):
    """One class in one reviewed photo: the photo's current label has ``boxes`` trainable
    boxes of it. Times are camera-local epoch seconds (clock offset applied)."""

    __tablename__ = "analytics_detections"
    media_id: Mapped[int] = mapped_column(
        ForeignKey("media.id", ondelete="CASCADE"), primary_key=True
    )
    class_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(IdType)
    at: Mapped[int] = mapped_column(BigInteger)
    boxes: Mapped[int] = mapped_column(Integer)
    __table_args__ = (Index("ix_analytics_detections_series", "camera_id", "class_id", "at"),)


class AnalyticsEvent(Base):
    """An independent event at the maintained interval (30 minutes): detections of one class
    at one camera with no gap longer than the interval; ``count`` is the most boxes of the
    class in one photo of it."""

    __tablename__ = "analytics_events"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    camera_id: Mapped[int] = mapped_column(IdType)
    class_id: Mapped[int] = mapped_column(Integer)
    started: Mapped[int] = mapped_column(BigInteger)
    ended: Mapped[int] = mapped_column(BigInteger)
    media: Mapped[int] = mapped_column(Integer)
    animals: Mapped[int] = mapped_column(Integer)
    __table_args__ = (Index("ix_analytics_events_series", "camera_id", "class_id", "started"),)


class AnalyticsDay(Base):
    """Per camera, class and camera-local day: detections, the maintained events that started
    then and their animals. The report's counts, rates and occupancy read these sums."""

    __tablename__ = "analytics_days"
    camera_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    class_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)  # days since 1970-01-01
    media: Mapped[int] = mapped_column(Integer)
    events: Mapped[int] = mapped_column(Integer)
    animals: Mapped[int] = mapped_column(Integer)


class AnalyticsDiel(Base):
    """Per camera, class and camera-local hour of the day: maintained events that started
    then (the diel histogram; at most 24 rows per camera and class)."""

    __tablename__ = "analytics_diel"
    camera_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    class_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    events: Mapped[int] = mapped_column(Integer)


class AnalyticsState(Base):
    """One row: whether the maintained analytics tables hold every label (False after an
    upgrade of a project with labels, until the ``analytics-rebuild`` job or
    `wildloop analytics rebuild` fills them)."""

    __tablename__ = "analytics_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    built: Mapped[bool] = mapped_column(Boolean)
