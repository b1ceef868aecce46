"""The Celery executor's seams without worker processes: routing, what the dispatcher sends
(on kombu's in-memory transport), the executor lookup, and who holds which chunk."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from wildloop.cli.app import app as cli_app
from wildloop.jobs import claims
from wildloop.jobs.celery_executor import CeleryExecutor, Dispatcher, broker_priority, make_app
from wildloop.jobs.executor import executor_for
from wildloop.jobs.local import LocalExecutor
from wildloop.jobs.records import submit_job
from wildloop.jobs.routing import route
from wildloop.project import Project

pytest.importorskip("celery", reason="the scale extra (celery) is not installed")


def test_kinds_route_to_their_queue_and_urgent_ones_go_first(project: Project) -> None:
    config = project.config
    assert route(config, "predict").queue == "infer-cpu"
    assert route(config, "train").queue == "train"
    assert route(config, "compare").queue == "eval"
    assert route(config, "compare").priority > route(config, "predict").priority
    # A shadow run shares the champion's queue and waits behind it.
    assert route(config, "shadow").queue == route(config, "predict").queue
    assert route(config, "shadow").priority == 0 < route(config, "predict").priority
    config.inference.device = "cuda:0"
    assert route(config, "predict").queue == "infer-gpu"
    config.jobs.routes = {"compare": "infer-gpu"}
    config.jobs.priorities = {"predict": 12}
    assert route(config, "compare").queue == "infer-gpu"
    assert route(config, "predict").priority == 9  # clamped to the broker's range
    # kombu's Redis transport reads 0 first, RabbitMQ 9 first: one meaning in the config.
    config.jobs.broker_url = "redis://127.0.0.1:6379/0"
    assert broker_priority(config, 9) == 0
    config.jobs.broker_url = "amqp://guest:guest@127.0.0.1:5672//"
    assert broker_priority(config, 9) == 9


def test_dispatcher_sends_each_chunk_once_and_again_when_it_comes_back(
    project: Project,
) -> None:
    project.config.jobs.broker_url = "memory://"
    project.config.jobs.resend_after_seconds = 3600
    with project.db.session() as session:
        job_id = submit_job(session, "predict", {}, [{"n": 1}, {"n": 2}, {"n": 3}])
    dispatcher = Dispatcher(project, make_app(project.config))
    assert dispatcher.tick() == 3
    assert dispatcher.tick() == 0  # still in the broker: not sent twice
    with project.db.session() as session:
        claim = claims.claim_chunk(session, "elsewhere:1:celery", job_id=job_id)
        assert claim is not None
        # claimed by id: a duplicated delivery of the same chunk finds nothing to take
        assert claims.claim_chunk(session, "other:2:celery", chunk_id=claim.chunk_id) is None
    assert dispatcher.tick() == 0
    with project.db.session() as session:
        claims.release_chunk(session, claim, "elsewhere:1:celery")  # a parent waiting
    assert dispatcher.tick() == 1  # it came back: send it again
    project.config.jobs.resend_after_seconds = 0.001
    assert dispatcher.tick() == 3  # nobody took them: the messages may be lost


def test_executor_is_chosen_by_configuration(project: Project) -> None:
    assert isinstance(executor_for(project), LocalExecutor)
    project.config.jobs.executor = "celery"
    assert isinstance(executor_for(project), CeleryExecutor)


def test_jobs_show_names_the_worker_holding_each_chunk(project: Project) -> None:
    with project.db.session() as session:
        job_id = submit_job(session, "predict", {}, [{"n": 1}, {"n": 2}])
        claims.claim_chunk(session, "gpu-box-3:4242:celery", job_id=job_id)
    result = CliRunner().invoke(
        cli_app, ["jobs", "show", str(job_id), "--json", "--project", str(project.root)]
    )
    assert result.exit_code == 0, result.output
    held = json.loads(result.output)["held_chunks"]
    assert [(c["seq"], c["worker"]) for c in held] == [(0, "gpu-box-3:4242:celery")]
    listing = CliRunner().invoke(
        cli_app, ["jobs", "list", "--project", str(project.root)], env={"COLUMNS": "200"}
    )
    assert "gpu-box-3:4242:celery" in listing.output
