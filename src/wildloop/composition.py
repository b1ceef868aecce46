"""The composition root: the job kinds this build of wildloop runs.

The job mechanism (``wildloop.jobs``) knows no kind; the services define theirs; the edges
(the CLI's entry point, the web app factory, worker processes) call :func:`register_job_kinds`
before they run anything. One list, imported plainly, so the linter sees every dependency.
"""

from __future__ import annotations

from wildloop.analytics.rebuild_job import REBUILD_KIND
from wildloop.audio.embed_job import EMBED_KIND
from wildloop.audio.search import INDEX_KIND
from wildloop.crops.index import CROP_INDEX_KIND
from wildloop.curation.label_issues_job import LABEL_ISSUES_KIND
from wildloop.evaluation.compare_job import COMPARE_KIND
from wildloop.evaluation.quantize_job import QUANTIZE_KIND
from wildloop.evaluation.reid_switch_job import SWITCH_KIND
from wildloop.evaluation.shadow import AGREEMENT_KIND
from wildloop.evaluation.thresholds_job import THRESHOLDS_KIND
from wildloop.individuals.embed_job import LABEL_EMBED_KIND
from wildloop.individuals.suggest_job import SUGGEST_KIND
from wildloop.jobs.kinds import JobKind, register_kind
from wildloop.processing.predict_job import PREDICT_KIND, SHADOW_KIND
from wildloop.review.queue import QUEUE_KIND
from wildloop.review.repeat_job import REPEAT_DECISION_KIND
from wildloop.training.job import TRAIN_KIND
from wildloop.training.loop_job import LOOP_KIND

JOB_KINDS: tuple[JobKind, ...] = (
    PREDICT_KIND,
    TRAIN_KIND,
    LOOP_KIND,
    COMPARE_KIND,
    EMBED_KIND,
    INDEX_KIND,
    CROP_INDEX_KIND,
    QUEUE_KIND,
    LABEL_EMBED_KIND,
    SUGGEST_KIND,
    THRESHOLDS_KIND,
    QUANTIZE_KIND,
    REPEAT_DECISION_KIND,
    SWITCH_KIND,
    SHADOW_KIND,
    AGREEMENT_KIND,
    LABEL_ISSUES_KIND,
    REBUILD_KIND,
)


def register_job_kinds() -> None:
    """Make every kind of this build available to the workers of this process."""
    for kind in JOB_KINDS:
        register_kind(kind)
