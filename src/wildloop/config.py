"""Project settings: ``wildloop.toml`` in the project folder, validated by pydantic.

The file is the source of truth for classes (with stable ids), split ratios, the sequence gap,
thresholds and the database URL. ``WILDLOOP_DATABASE_URL`` overrides the URL, so one project
folder can point at PostgreSQL in CI without editing the file.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from wildloop.atomic import write_text_atomic
from wildloop.domain.classes import ClassDef, ClassMap
from wildloop.domain.splits import GroupBy, SplitRatios
from wildloop.errors import BadInput

CONFIG_FILE = "wildloop.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClassEntry(_Section):
    id: int = Field(ge=0)
    name: str


class SplitSettings(_Section):
    train: float = 0.70
    val: float = 0.15
    test: float = 0.15
    salt: str = Field(default="wildloop", description="changes every split; set once at init")
    group_by: GroupBy = Field(
        default=GroupBy.SEQUENCE,
        description="what never straddles two splits: sequence, camera or location; "
        "change it with `wildloop splits regroup`",
    )

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitSettings:
        SplitRatios(self.train, self.val, self.test)
        return self

    def ratios(self) -> SplitRatios:
        return SplitRatios(self.train, self.val, self.test)


class IngestSettings(_Section):
    sequence_gap_seconds: float = Field(default=10.0, gt=0)
    on_bad_exif: Literal["fail", "fallback"] = "fail"
    max_image_pixels: int = Field(default=178_956_970, gt=0)
    workers: int = Field(default=0, ge=0, description="0 = one per CPU core")


class ThresholdSettings(_Section):
    store: float = Field(default=0.05, ge=0, le=1, description="predictions below are not kept")
    store_test: float = Field(
        default=0.001,
        ge=0,
        le=1,
        description="test-split items keep up to 100 boxes down to this score, so evaluations "
        "rank every detection as COCO tools do; boxes below `store` are never shown",
    )
    default: float = Field(default=0.25, ge=0, le=1, description="shown as detections")
    review: float = Field(default=0.5, ge=0, le=1, description="below this goes to review")
    per_class: dict[str, float] = Field(default_factory=dict)
    per_class_model: int | None = Field(
        default=None,
        description="the model version whose computed thresholds `per_class` holds (set by "
        "`thresholds apply`; a promotion replaces them with the new champion's, or clears them)",
    )


class InferenceSettings(_Section):
    """How the one inference pipeline runs; every caller (process, reprocess, evaluation)."""

    runtime: Literal["auto", "onnx", "torch"] = "auto"
    device: str = Field(default="auto", description="auto, cpu, cuda or cuda:N")
    batch_size: int = Field(default=0, ge=0, description="0 = 16 on CPU, 128 on GPU")
    decode_workers: int = Field(default=0, ge=0, description="0 = one per CPU core")
    reduced_decode: bool = Field(default=True, description="JPEG DCT-scaled decode")
    model_workers: int = Field(
        default=0,
        ge=0,
        description="batches run at once; 0 = one per core (max 4) on CPU, 1 on GPU",
    )
    iou: float = Field(default=0.7, gt=0, le=1, description="NMS IoU threshold")
    max_det: int = Field(default=300, gt=0)
    chunk_size: int = Field(default=512, gt=0, description="media per job chunk")


class JobSettings(_Section):
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    stale_after_seconds: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    local_workers: int = Field(default=1, ge=1, description="in-process worker threads")
    executor: Literal["local", "celery"] = Field(
        default="local", description="local: threads of this process; celery: a broker's workers"
    )
    broker_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="Celery broker (redis:// or amqp://); WILDLOOP_BROKER_URL overrides it",
    )
    routes: dict[str, str] = Field(
        default_factory=dict,
        description="job kind -> Celery queue (defaults: train, eval, infer-cpu or infer-gpu)",
    )
    priorities: dict[str, int] = Field(
        default_factory=dict, description="job kind -> priority 0..9, higher runs first"
    )
    resend_after_seconds: float = Field(
        default=300.0, gt=0, description="send a chunk again if no worker took it this long"
    )

    def broker(self) -> str:
        """The broker URL in effect: the environment, then the file."""
        return os.environ.get("WILDLOOP_BROKER_URL") or self.broker_url


# --- datasets, training, evaluation and promotion (issue 9) -----------------------------------


class DatasetSettings(_Section):
    pseudo_labels: bool = Field(
        default=False,
        description="add unreviewed train/val items labelled by the champion (marked as such)",
    )
    pseudo_label_threshold: float = Field(default=0.8, ge=0, le=1)
    min_class_examples: int = Field(
        default=100, ge=0, description="exports warn about classes with fewer boxes"
    )
    camtrap_utc_offset: str = Field(
        default="+00:00",
        pattern=r"^[+-]\d{2}:\d{2}$",
        description="UTC offset of the camera clocks, for Camtrap DP timestamps",
    )
    scientific_names: dict[str, str] = Field(
        default_factory=dict, description="class name -> scientific name, for Camtrap DP"
    )


class TrainingSettings(_Section):
    epochs: int = Field(default=50, ge=1)
    batch: int = Field(default=16, ge=1)
    imgsz: int = Field(default=640, ge=32)
    patience: int = Field(default=20, ge=0)
    device: str = Field(default="", description="'' picks cuda:0 when present, else cpu")
    workers: int = Field(default=2, ge=0, description="data loader processes")
    base_weights: str = Field(
        default="",
        description="a .pt to start from when there is no champion (yolov8n.pt, MegaDetector)",
    )
    model_yaml: str = Field(
        default="yolov8n.yaml", description="architecture used when no weights exist at all"
    )
    seed: int = 0
    amp: bool = Field(default=True, description="mixed precision on CUDA")
    warmup_epochs: float = Field(
        default=3.0, ge=0, description="Ultralytics LR warm-up (at least 100 batches if > 0)"
    )


class EvaluationSettings(_Section):
    bootstrap_samples: int = Field(default=1000, ge=0)
    bootstrap_seed: int = 0
    calibration_bins: int = Field(default=10, ge=2)


class GateSettings(_Section):
    min_improvement: float = Field(
        default=0.005, ge=0, description="mAP50-95 the challenger must gain over the champion"
    )
    max_class_drop: float = Field(
        default=0.05, ge=0, description="largest AP50-95 drop allowed for any one class"
    )
    min_class_boxes: int = Field(
        default=5, ge=1, description="classes with fewer test boxes are reported, not gated"
    )
    require_significant: bool = Field(
        default=False, description="also require the bootstrap interval's lower bound > 0"
    )
    parity_tolerance: float = Field(
        default=0.005,
        ge=0,
        description="mAP50-95 a quantised copy may lose against its parent and still serve",
    )


class TriggerSettings(_Section):
    """Each trigger retrains one stage: ``after_reviewed`` the detector (an audio project's
    head), ``classifier_after_reviewed`` only the crop classifier (minutes on a CPU, paired
    with the champion's detector), the schedule the stage ``schedule_stage`` names. Items
    count from the last successful training of the trigger's own stage."""

    after_reviewed: int = Field(
        default=100,
        ge=0,
        description="train the detector after this many new reviewed items; 0 = off",
    )
    classifier_after_reviewed: int = Field(
        default=0,
        ge=0,
        description="train only the crop classifier after this many new reviewed items; 0 = off",
    )
    schedule: str = Field(default="", description="cron expression, e.g. '0 3 * * 0'; '' = off")
    schedule_stage: Literal["detector", "classifier"] = Field(
        default="detector", description="the stage the schedule retrains"
    )
    check_seconds: float = Field(
        default=60.0, ge=0, description="how often `wildloop serve` checks them; 0 = never"
    )
    reprocess_after_promotion: bool = True


class AudioSettings(_Section):
    """How an audio project cuts recordings into windows and embeds them (issue 14)."""

    window_s: float = Field(default=3.0, gt=0, description="window length in seconds")
    hop_s: float = Field(default=1.5, gt=0, description="seconds between window starts")
    embedder: str = Field(
        default="logmel",
        description="logmel (licence-free), birdnet (optional extra, CC BY-NC-SA) or a path "
        "to a .tflite/.onnx embedding model",
    )
    model_sample_rate: int = Field(
        default=48_000, gt=0, description="sample rate a user-supplied model expects"
    )
    min_rms: float = Field(
        default=1e-5, ge=0, description="a recording whose every block is quieter fails as silent"
    )
    batch_size: int = Field(default=64, ge=1, description="windows per embedding model call")
    threads: int = Field(default=0, ge=0, description="embedding model threads; 0 = all cores")
    chunk_windows: int = Field(default=2048, ge=1, description="windows per embedding job chunk")
    retrain_after_reviews: int = Field(
        default=100, ge=0, description="train a new head after this many new reviewed windows"
    )

    @model_validator(mode="after")
    def _hop_within_window(self) -> AudioSettings:
        if self.hop_s > self.window_s:
            raise ValueError("audio.hop_s must not exceed audio.window_s (gaps would go unheard)")
        return self


class StorageSettings(_Section):
    """Where a machine finds model artifacts and media (one server plus N workers)."""

    artifacts_url: str = Field(
        default="",
        description="'' = the project's artifacts/; a path = a shared (NFS) folder; "
        "a URL (s3://..., file://...) = a shared store read through cache_dir via fsspec",
    )
    cache_dir: str = Field(default="", description="this machine's cache; '' = PROJECT/cache")
    media_roots: dict[str, str] = Field(
        default_factory=dict,
        description="path prefix as ingested on the server -> the same folder on this machine",
    )


class CropSettings(_Section):
    """Crop embeddings computed by the detector's pass (issue 17): off unless enabled."""

    embed: bool = Field(default=False, description="embed each detected box while predicting")
    model: str = Field(
        default="default",
        description="default or mobilenet_v1 (the bundled ImageNet MobileNet v1, 1024-d), "
        "mobilenet_v2 (bundled, 1280-d), detector (the predicting detector's own feature "
        "maps pooled over each box in its pass; ONNX runtime) or a path to a .tflite/.onnx "
        "image embedding model",
    )
    padding: float = Field(default=0.10, ge=0, le=1, description="context around each box")
    min_score: float = Field(default=0.10, ge=0, le=1, description="boxes below are not embedded")
    max_per_image: int = Field(default=20, ge=1, description="best boxes embedded per image")
    threads: int = Field(default=1, ge=1, description="embedding model threads per worker")


class PriorSettings(_Section):
    """How cameras' allow-lists (location priors) act on predictions."""

    mode: Literal["off", "hard", "soft"] = Field(
        default="hard",
        description="hard: roll a class not allowed up to the camera's parent class or drop "
        "the box; soft: multiply its score by `factor`; off: ignore allow-lists",
    )
    factor: float = Field(default=0.1, ge=0, le=1, description="soft prior's score factor")


class SmoothingSettings(_Section):
    """Sequence smoothing of predictions within a burst: off unless enabled."""

    enabled: bool = Field(default=False, description="let a burst's dominant class overrule")
    weak: float = Field(default=0.5, ge=0, le=1, description="boxes below this score follow")


class ShadowSettings(_Section):
    """Shadow runs: the challenger predicts beside the champion on a share of new items.

    Off (0) by default: every shadowed item costs a second inference, and a project opts in
    once it has a challenger worth watching (`wildloop shadow set --share 0.1`)."""

    share: float = Field(
        default=0.0, ge=0, le=1, description="share of new items the challenger also predicts"
    )


class DatabaseSettings(_Section):
    url: str = ""


class ProjectConfig(_Section):
    name: str
    modality: Literal["image", "audio"] = "image"
    classes: list[ClassEntry]
    splits: SplitSettings = Field(default_factory=SplitSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    thresholds: ThresholdSettings = Field(default_factory=ThresholdSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    inference: InferenceSettings = Field(default_factory=InferenceSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    datasets: DatasetSettings = Field(default_factory=DatasetSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings)
    gate: GateSettings = Field(default_factory=GateSettings)
    triggers: TriggerSettings = Field(default_factory=TriggerSettings)
    audio: AudioSettings = Field(default_factory=AudioSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    crops: CropSettings = Field(default_factory=CropSettings)
    priors: PriorSettings = Field(default_factory=PriorSettings)
    smoothing: SmoothingSettings = Field(default_factory=SmoothingSettings)
    shadow: ShadowSettings = Field(default_factory=ShadowSettings)

    @field_validator("classes")
    @classmethod
    def _valid_classes(cls, value: list[ClassEntry]) -> list[ClassEntry]:
        if not value:
            raise ValueError("a project needs at least one class")
        ClassMap(ClassDef(c.id, c.name) for c in value)
        return value

    def class_map(self) -> ClassMap:
        return ClassMap(ClassDef(c.id, c.name) for c in self.classes)

    def database_url(self, root: Path) -> str:
        """The URL in effect: the environment, then the file, then SQLite in the project."""
        url = os.environ.get("WILDLOOP_DATABASE_URL") or self.database.url
        return url or f"sqlite:///{(root / 'wildloop.db').resolve()}"


def load_config(root: Path) -> ProjectConfig:
    path = root / CONFIG_FILE
    if not path.is_file():
        raise BadInput(
            f"{root} is not a wildloop project (no {CONFIG_FILE}); "
            "create one with `wildloop init DIR --name NAME --classes a,b,c`"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return ProjectConfig.model_validate(data)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path} is not valid TOML: {exc}") from exc
    except ValidationError as exc:
        raise BadInput(f"{path} has invalid settings:\n{exc}") from exc


def save_config(root: Path, config: ProjectConfig) -> None:
    # TOML has no null: an unset optional field is left out and loads back as None.
    data = config.model_dump(mode="json", exclude_defaults=False, exclude_none=True)
    write_text_atomic(root / CONFIG_FILE, tomli_w.dumps(data))
