"""Which broker queue and priority each job kind's chunks go to (the Celery executor).

Queues split the work by kind and device so a machine subscribes only to what it can run:
``infer-cpu``/``infer-gpu`` (processing, reprocessing, embeddings), ``train`` and ``eval``
(comparisons and the loop that orchestrates them). ``jobs.routes`` in wildloop.toml moves a
kind to another queue. Priorities (0..9, higher first, RabbitMQ's sense) order the chunks
within one queue, so a training or a comparison routed beside a long reprocess still goes
first; the separate queues are the main guarantee, priorities the second.
"""

from __future__ import annotations

from dataclasses import dataclass

from wildloop.config import ProjectConfig

QUEUES = ("infer-cpu", "infer-gpu", "train", "eval")
_KIND_QUEUES = {"train": "train", "compare": "eval", "loop": "eval"}
_URGENT = {"train": 9, "compare": 9, "loop": 8}
# Shadow runs wait behind everything on their queue (the champion's predictions first).
_BACKGROUND = {"shadow": 0, "shadow-agreement": 0}
_BULK_PRIORITY = 3


@dataclass(frozen=True)
class Route:
    queue: str
    priority: int


def route(config: ProjectConfig, kind: str) -> Route:
    """The queue and priority of ``kind``: the configured route, else the default by kind
    (inference kinds by ``inference.device``)."""
    jobs = config.jobs
    queue = jobs.routes.get(kind) or _KIND_QUEUES.get(kind) or _infer_queue(config)
    default = _URGENT.get(kind, _BACKGROUND.get(kind, _BULK_PRIORITY))
    priority = jobs.priorities.get(kind, default)
    return Route(queue=queue, priority=max(0, min(9, priority)))


def _infer_queue(config: ProjectConfig) -> str:
    return "infer-gpu" if config.inference.device.startswith("cuda") else "infer-cpu"
