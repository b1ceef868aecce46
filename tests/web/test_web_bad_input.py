"""Every JSON API endpoint, given bad input, answers 4xx with a JSON error that says what is
wrong, and the database is exactly as it was.

The cases are one table keyed by endpoint (method and path as the OpenAPI document names
them); a test checks that every endpoint that takes any input has cases, so a new endpoint
without them is noticed.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.review import db_state, first_with_boxes, first_without_boxes, login
from wildloop.review import cursors
from wildloop.web.app import create_app
from wildloop.web.middleware import MAX_BODY_BYTES

BOX = {"x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2, "class": "doe"}
HUGE = 10**30  # beyond any database integer
GRID_CURSOR = cursors.encode("id", 1, HUGE)
MARKED_CURSOR = cursors.encode("2026-01-01T00:00:00+00:00", HUGE)
V1 = "/api/v1"
MEDIA = ("GET", f"{V1}/media")
COUNT = ("GET", f"{V1}/media/count")
DETAIL = ("GET", f"{V1}/media/{{media_id}}")
HISTORY = ("GET", f"{V1}/media/{{media_id}}/history")
ACTIONS = ("POST", f"{V1}/media/{{media_id}}/actions")
LABELS = ("PUT", f"{V1}/media/{{media_id}}/labels")
BATCH = ("POST", f"{V1}/batch")
MARKED = ("GET", f"{V1}/marked")
QUEUE = ("GET", f"{V1}/queue")
NEW_USER = ("POST", f"{V1}/users")
PATCH_USER = ("PATCH", f"{V1}/users/{{username}}")
NEW_TOKEN = ("POST", f"{V1}/tokens")
REVOKE = ("DELETE", f"{V1}/tokens/{{token_id}}")
JOBS = ("GET", f"{V1}/jobs")
WINDOWS = ("GET", f"{V1}/windows")
WINDOW = ("GET", f"{V1}/windows/{{media_id}}")
SPECTROGRAM = ("GET", f"{V1}/windows/{{media_id}}/spectrogram")
CLIP = ("GET", f"{V1}/windows/{{media_id}}/clip")
WINDOW_LABELS = ("PUT", f"{V1}/windows/{{media_id}}/labels")
SIMILAR = ("GET", f"{V1}/windows/{{media_id}}/similar")
SIMILAR_CLIP = ("POST", f"{V1}/windows/similar-to-clip")
SNAPSHOTS = ("GET", f"{V1}/snapshots")
NEW_SNAPSHOT = ("POST", f"{V1}/snapshots")
TRAIN = ("POST", f"{V1}/training")
TRAIN_CLASSIFIER = ("POST", f"{V1}/training/classifier")
PIPELINES = ("POST", f"{V1}/pipelines")
LOOP = ("POST", f"{V1}/loop")
EVALUATIONS = ("GET", f"{V1}/evaluations")
COMPARISON = ("GET", f"{V1}/comparison")
PROMOTION = ("POST", f"{V1}/promotion")
ROLLBACK = ("POST", f"{V1}/rollback")
ANALYTICS = ("GET", f"{V1}/analytics")
ANALYTICS_CSV = ("GET", f"{V1}/analytics/{{table}}.csv")
NEW_INDIVIDUAL = ("POST", f"{V1}/individuals")
INDIVIDUAL = ("GET", f"{V1}/individuals/{{individual_id}}")
EDIT_INDIVIDUAL = ("PATCH", f"{V1}/individuals/{{individual_id}}")
SIGHTINGS = ("POST", f"{V1}/individuals/{{individual_id}}/sightings")
MERGE = ("POST", f"{V1}/individuals/{{individual_id}}/merge")
SPLIT = ("POST", f"{V1}/individuals/{{individual_id}}/split")
SUGGEST_ALL = ("POST", f"{V1}/individuals/suggestions")
TRAIN_EMBEDDER = ("POST", f"{V1}/individuals/embedder/train")
PROMOTE_EMBEDDER = ("POST", f"{V1}/individuals/embedder/promote")
ROLLBACK_EMBEDDER = ("POST", f"{V1}/individuals/embedder/rollback")
UNASSIGN = ("DELETE", f"{V1}/sightings/{{sighting_id}}")
SUGGESTIONS = ("GET", f"{V1}/label-boxes/{{label_box_id}}/suggestions")
MOVE = ("POST", f"{V1}/sightings/{{sighting_id}}/move")
IDENTITIES = ("GET", f"{V1}/media/{{media_id}}/identities")
THRESHOLDS = ("POST", f"{V1}/thresholds")
APPLY_THRESHOLDS = ("POST", f"{V1}/thresholds/apply")
MODEL_THRESHOLDS = ("GET", f"{V1}/models/{{model}}/thresholds")
PREDICTION_SETTINGS = ("GET", f"{V1}/models/{{model}}/prediction-settings")
PRIORS = ("PUT", f"{V1}/cameras/{{name}}/priors")
EVENTS = ("GET", f"{V1}/events")
EVENT = ("GET", f"{V1}/events/{{event_id}}")
EVENT_ACTIONS = ("POST", f"{V1}/events/{{event_id}}/actions")
SIMILAR_MEDIA = ("GET", f"{V1}/media/{{media_id}}/similar")
UPLOAD = ("PUT", f"{V1}/uploads/{{sha256}}")
UPLOAD_STATE = ("GET", f"{V1}/uploads/{{sha256}}")
MODEL_ONNX = ("GET", f"{V1}/models/{{ref}}.onnx")
QUANTIZE = ("POST", f"{V1}/models/{{model}}/quantize")
REPEATS = ("GET", f"{V1}/repeats")
REPEAT_DECISION = ("POST", f"{V1}/repeats/{{group}}/decision")
REPEAT_UNDO = ("POST", f"{V1}/repeats/decisions/{{decision_id}}/undo")
REPEAT_STATUS = ("GET", f"{V1}/repeats/decisions/{{decision_id}}")
SHADOW_SET = ("PUT", f"{V1}/shadow")
SHADOW_RUN = ("POST", f"{V1}/shadow/run")
SHADOW_LIST = ("GET", f"{V1}/shadow/disagreements")
LABEL_ISSUES = ("GET", f"{V1}/label-issues")
LABEL_ISSUE_DECISION = ("POST", f"{V1}/label-issues/{{issue_id}}/decision")
LABEL_ISSUES_REFRESH = ("POST", f"{V1}/label-issues/refresh")


@dataclass(frozen=True)
class Case:
    name: str
    endpoint: tuple[str, str]
    url: str  # {m}: an item with boxes, {e}: an item without
    body: Any  # JSON, or bytes sent as they are
    status: int
    words: str  # the error message must contain these
    headers: dict[str, str] | None = None


def _grid_cases() -> list[Case]:
    return [
        Case("grid: unknown class", MEDIA, f"{V1}/media?class=elk", None, 400, "unknown class"),
        Case("grid: limit 0", MEDIA, f"{V1}/media?limit=0", None, 422, "limit"),
        Case("grid: limit huge", MEDIA, f"{V1}/media?limit={HUGE}", None, 422, "limit"),
        Case(
            "grid: cursor id huge", MEDIA, f"{V1}/media?cursor={GRID_CURSOR}", None, 400, "cursor"
        ),
        Case("grid: shadow", MEDIA, f"{V1}/media?shadow=agree", None, 400, "shadow"),
        Case("count: score", COUNT, f"{V1}/media/count?min_score=2", None, 400, "between 0"),
        Case("count: model", COUNT, f"{V1}/media/count?model=nope", None, 400, "unknown model"),
        Case("detail: id huge", DETAIL, f"{V1}/media/{HUGE}", None, 422, "media_id"),
        Case("detail: id 0", DETAIL, f"{V1}/media/0", None, 422, "media_id"),
        Case("detail: id text", DETAIL, f"{V1}/media/one", None, 422, "media_id"),
        Case("detail: unknown", DETAIL, f"{V1}/media/999999", None, 404, "does not exist"),
        Case("detail: filter", DETAIL, f"{V1}/media/{{m}}?sort=colour", None, 400, "unknown sort"),
        Case("history: id huge", HISTORY, f"{V1}/media/{HUGE}/history", None, 422, "media_id"),
        Case("history: unknown", HISTORY, f"{V1}/media/999999/history", None, 404, "not exist"),
        Case("marked: kind", MARKED, f"{V1}/marked?kind=zzz", None, 400, "kind must be"),
        Case("marked: limit", MARKED, f"{V1}/marked?limit=501", None, 422, "limit"),
        Case("marked: cursor", MARKED, f"{V1}/marked?cursor={MARKED_CURSOR}", None, 400, "cursor"),
        Case("queue: limit 0", QUEUE, f"{V1}/queue?limit=0", None, 422, "limit"),
        Case("queue: limit huge", QUEUE, f"{V1}/queue?limit={HUGE}", None, 422, "limit"),
        Case("queue: exclude 0", QUEUE, f"{V1}/queue?exclude=0", None, 422, "exclude"),
        Case("queue: exclude text", QUEUE, f"{V1}/queue?exclude=x", None, 422, "exclude"),
    ]


def _action_cases() -> list[Case]:
    url = f"{V1}/media/{{m}}/actions"

    def case(name: str, body: Any, status: int, words: str, at: str = url) -> Case:
        return Case(name, ACTIONS, at, body, status, words)

    return [
        case(
            "unknown class in action",
            {"action": "set_class", "class": "elk", "expected_revision": 0},
            400,
            "unknown class 'elk'",
        ),
        case(
            "box index out of range",
            {"action": "set_class", "class": "doe", "box": 40, "expected_revision": 0},
            400,
            "box 40 does not exist",
        ),
        case("box index huge", {"action": "invalid", "reason": "other", "box": HUGE}, 422, "box"),
        case("box on accept", {"action": "accept", "box": 40}, 400, "leave it out"),
        case(
            "box on accept, no boxes",
            {"action": "accept", "box": 0},
            400,
            "leave it out",
            f"{V1}/media/{{e}}/actions",
        ),
        case(
            "expected_revision huge",
            {"action": "accept", "expected_revision": HUGE},
            422,
            "expected_revision",
        ),
        case(
            "expected_revision negative",
            {"action": "accept", "expected_revision": -1},
            422,
            "expected_revision",
        ),
        case("undo revision 0", {"action": "undo", "revision": 0}, 422, "revision"),
        case("undo revision huge", {"action": "undo", "revision": HUGE}, 422, "revision"),
        case(
            "unknown model version",
            {"action": "accept", "model_version_id": 424242},
            400,
            "model_version_id 424242 does not exist",
        ),
        case(
            "model version huge",
            {"action": "accept", "model_version_id": HUGE},
            422,
            "model_version_id",
        ),
        case("media id huge", {"action": "accept"}, 422, "media_id", f"{V1}/media/{HUGE}/actions"),
        case("set_class without class", {"action": "set_class"}, 400, "needs a class"),
        case("invalid without reason", {"action": "invalid"}, 400, "needs a reason"),
        case("unknown invalid reason", {"action": "invalid", "reason": "blurry"}, 422, "reason"),
        case("unknown action", {"action": "explode"}, 422, "action"),
        case("unknown field", {"action": "accept", "colour": "red"}, 422, "colour"),
        case("wrong type", {"action": "accept", "expected_revision": "new"}, 422, "revision"),
        case("note too long", {"action": "note", "note": "x" * 2001}, 422, "note"),
        case("mark without kind", {"action": "mark"}, 400, "mark needs a kind"),
        case("unknown scope", {"action": "accept", "scope": "camera"}, 422, "scope"),
        case(
            "class on an item with no box",
            {"action": "set_class", "class": "doe", "expected_revision": 0},
            400,
            "no box",
            f"{V1}/media/{{e}}/actions",
        ),
        case("undo with nothing to undo", {"action": "undo"}, 400, "no labels"),
        case(
            "unknown media",
            {"action": "accept"},
            404,
            "does not exist",
            f"{V1}/media/999999/actions",
        ),
        case("not an object", [1, 2], 422, "body"),
    ]


def _label_cases() -> list[Case]:
    url = f"{V1}/media/{{m}}/labels"

    def case(name: str, body: Any, status: int, words: str) -> Case:
        return Case(name, LABELS, url, body, status, words)

    nan_box = b'{"expected_revision": 0, "boxes": [{"x": NaN, "y": 0.1, "w": 0.2, "h": 0.2}]}'
    return [
        case(
            "unknown class in box",
            {"expected_revision": 0, "boxes": [{**BOX, "class": "elk"}]},
            400,
            "unknown class",
        ),
        case(
            "box outside the image",
            {"expected_revision": 0, "boxes": [{**BOX, "x": 0.9, "w": 0.5}]},
            400,
            "outside the image",
        ),
        case("box with no area", {"expected_revision": 0, "boxes": [{**BOX, "w": 0}]}, 400, "area"),
        case(
            "negative box",
            {"expected_revision": 0, "boxes": [{**BOX, "x": -0.3}]},
            400,
            "outside the image",
        ),
        case("box of NaN", nan_box, 422, "finite"),
        case(
            "box without class",
            {"expected_revision": 0, "boxes": [{k: v for k, v in BOX.items() if k != "class"}]},
            400,
            "needs a class",
        ),
        case(
            "empty item with an animal box",
            {"expected_revision": 0, "boxes": [BOX], "empty": True},
            400,
            "empty",
        ),
        case(
            "prediction of another item",
            {"expected_revision": 0, "boxes": [{**BOX, "prediction_id": 999999}]},
            400,
            "do not belong",
        ),
        case(
            "prediction id huge",
            {"expected_revision": 0, "boxes": [{**BOX, "prediction_id": HUGE}]},
            422,
            "prediction_id",
        ),
        case("labels without revision", {"boxes": []}, 422, "expected_revision"),
        case("labels revision huge", {"expected_revision": HUGE}, 422, "expected_revision"),
        case(
            "labels with unknown model",
            {"expected_revision": 0, "model_version_id": 424242},
            400,
            "does not exist",
        ),
        case("too many boxes", {"expected_revision": 0, "boxes": [BOX] * 501}, 422, "boxes"),
    ]


def _batch_cases() -> list[Case]:
    url = f"{V1}/batch"

    def case(name: str, body: Any, status: int, words: str) -> Case:
        return Case(name, BATCH, url, body, status, words)

    return [
        case(
            "unknown class in batch",
            {"ids": ["{m}"], "action": "set_class", "class": "elk"},
            400,
            "unknown class",
        ),
        case(
            "batch with ids and filter",
            {"ids": ["{m}"], "filter": {"camera": "cam01"}, "action": "accept"},
            400,
            "either",
        ),
        case(
            "batch with an unknown filter",
            {"filter": {"colour": "red"}, "action": "accept"},
            400,
            "unknown filter parameter",
        ),
        case("batch with undo", {"ids": ["{m}"], "action": "undo"}, 422, "action"),
        case("batch too large", {"ids": list(range(1, 2100)), "action": "accept"}, 422, "2000"),
        case("batch id huge", {"ids": [HUGE], "action": "accept"}, 422, "ids.0"),
        case("batch id negative", {"ids": [-5], "action": "accept"}, 422, "ids.0"),
        case("batch of nothing", {"ids": [], "action": "accept"}, 400, "at least one"),
        case(
            "batch with unknown model",
            {"ids": ["{m}"], "action": "accept", "model_version_id": 424242},
            400,
            "does not exist",
        ),
    ]


def _project_cases() -> list[Case]:
    users, tokens = f"{V1}/users", f"{V1}/tokens"
    return [
        Case(
            "user with a bad name",
            NEW_USER,
            users,
            {"username": "no spaces please", "password": "long enough"},
            400,
            "username",
        ),
        Case(
            "user with an unknown role",
            NEW_USER,
            users,
            {"username": "neo", "role": "emperor", "password": "long enough"},
            422,
            "role",
        ),
        Case("user without password", NEW_USER, users, {"username": "neo"}, 422, "password"),
        Case("patch with nothing", PATCH_USER, f"{users}/rita", {}, 400, "nothing to change"),
        Case("patch short password", PATCH_USER, f"{users}/rita", {"password": "x"}, 400, "8"),
        Case(
            "patch unknown user", PATCH_USER, f"{users}/nobody", {"role": "viewer"}, 404, "nobody"
        ),
        Case("patch unknown role", PATCH_USER, f"{users}/rita", {"role": "king"}, 422, "role"),
        Case("token without a name", NEW_TOKEN, tokens, {"name": "  "}, 400, "name"),
        Case("token name too long", NEW_TOKEN, tokens, {"name": "x" * 81}, 422, "name"),
        Case("revoke id huge", REVOKE, f"{tokens}/{HUGE}", None, 422, "token_id"),
        Case("revoke unknown", REVOKE, f"{tokens}/424242", None, 404, "no token"),
        Case("jobs: active maybe", JOBS, f"{V1}/jobs?active=maybe", None, 422, "active"),
    ]


def _loop_cases() -> list[Case]:
    return [
        Case("snapshots: purpose", SNAPSHOTS, f"{V1}/snapshots?purpose=x", None, 422, "purpose"),
        Case("new snapshot: purpose", NEW_SNAPSHOT, f"{V1}/snapshots", {"purpose": "x"}, 400, "x"),
        Case("training: epochs huge", TRAIN, f"{V1}/training", {"epochs": HUGE}, 422, "epochs"),
        Case("training: unknown field", TRAIN, f"{V1}/training", {"epoch": 3}, 422, "epoch"),
        Case(
            "classifier: padding 2",
            TRAIN_CLASSIFIER,
            f"{V1}/training/classifier",
            {"padding": 2},
            422,
            "padding",
        ),
        Case(
            "classifier: unknown field",
            TRAIN_CLASSIFIER,
            f"{V1}/training/classifier",
            {"lr": 3},
            422,
            "lr",
        ),
        Case(
            "classifier: unknown method",
            TRAIN_CLASSIFIER,
            f"{V1}/training/classifier",
            {"method": "svm"},
            422,
            "method",
        ),
        Case(
            "classifier: crop size not a multiple of 32",
            TRAIN_CLASSIFIER,
            f"{V1}/training/classifier",
            {"method": "yolo-cls", "crop_size": 100},
            422,
            "crop_size",
        ),
        Case(
            "classifier: zero epochs",
            TRAIN_CLASSIFIER,
            f"{V1}/training/classifier",
            {"method": "yolo-cls", "epochs": 0},
            422,
            "epochs",
        ),
        Case(
            "classifier: start weights for a head",
            TRAIN_CLASSIFIER,
            f"{V1}/training/classifier",
            {"start_weights": "/nonexistent/cls.pt"},
            400,
            "yolo-cls",
        ),
        Case("pipeline: no name", PIPELINES, f"{V1}/pipelines", {"detector": "1"}, 422, "name"),
        Case(
            "pipeline: unknown detector",
            PIPELINES,
            f"{V1}/pipelines",
            {"name": "p", "detector": "nope", "classifier": "nope"},
            404,
            "nope",
        ),
        Case("loop: epochs 0", LOOP, f"{V1}/loop", {"epochs": 0}, 422, "epochs"),
        Case("loop: stage", LOOP, f"{V1}/loop", {"stage": "both"}, 422, "stage"),
        Case("evaluations: model", EVALUATIONS, f"{V1}/evaluations?model=x", None, 404, "'x'"),
        Case("comparison: model", COMPARISON, f"{V1}/comparison?challenger=x", None, 404, "'x'"),
        Case("promotion: force", PROMOTION, f"{V1}/promotion", {"force": "maybe"}, 422, "force"),
        Case("rollback: blank", ROLLBACK, f"{V1}/rollback", {"reason": " "}, 400, "reason"),
        Case("rollback: no reason", ROLLBACK, f"{V1}/rollback", {}, 422, "reason"),
        Case(
            "priors: class", PRIORS, f"{V1}/cameras/cam01/priors", {"allowed": ["elk"]}, 400, "elk"
        ),
        Case("priors: camera", PRIORS, f"{V1}/cameras/nope/priors", {"allowed": []}, 404, "nope"),
        Case("priors: field", PRIORS, f"{V1}/cameras/cam01/priors", {"allow": []}, 422, "allow"),
        Case(
            "priors: blank", PRIORS, f"{V1}/cameras/cam01/priors", {"allowed": [""]}, 422, "allowed"
        ),
        Case(
            "priors: rollup only",
            PRIORS,
            f"{V1}/cameras/cam01/priors",
            {"rollup": "doe"},
            400,
            "allow-list",
        ),
    ]


def cases() -> list[Case]:
    return (
        _grid_cases()
        + _action_cases()
        + _label_cases()
        + _batch_cases()
        + _project_cases()
        + _loop_cases()
        + _window_cases()
        + _analytics_cases()
        + _individual_cases()
        + _threshold_cases()
        + _event_cases()
        + _upload_cases()
        + _quantize_cases()
        + _repeat_cases()
        + _shadow_cases()
        + _label_issue_cases()
    )


def _event_cases() -> list[Case]:
    """Events (event 1 is the first burst of the generated scenes) and more like this."""
    act = f"{V1}/events/1/actions"

    def action(name: str, body: Any, status: int, words: str, at: str = act) -> Case:
        return Case(name, EVENT_ACTIONS, at, body, status, words)

    return [
        Case("events: limit 0", EVENTS, f"{V1}/events?limit=0", None, 422, "limit"),
        Case("events: limit huge", EVENTS, f"{V1}/events?limit=501", None, 422, "limit"),
        Case("events: cursor -1", EVENTS, f"{V1}/events?cursor=-1", None, 422, "cursor"),
        Case("events: camera", EVENTS, f"{V1}/events?camera=nope", None, 400, "unknown camera"),
        Case("event: id 0", EVENT, f"{V1}/events/0", None, 422, "event_id"),
        Case("event: id huge", EVENT, f"{V1}/events/{HUGE}", None, 422, "event_id"),
        Case("event: unknown", EVENT, f"{V1}/events/999999", None, 404, "does not exist"),
        Case("event: model", EVENT, f"{V1}/events/1?model_version_id=424242", None, 400, "424242"),
        action(
            "event action: unknown", {"action": "burn", "expected_revisions": {}}, 422, "action"
        ),
        action(
            "event action: set_class without class",
            {"action": "set_class", "expected_revisions": {}},
            400,
            "needs a class",
        ),
        action(
            "event action: unknown class",
            {"action": "set_class", "class": "elk", "expected_revisions": {}},
            400,
            "unknown class 'elk'",
        ),
        action("event action: no revisions", {"action": "empty"}, 422, "expected_revisions"),
        action(
            "event action: frames missing",
            {"action": "empty", "expected_revisions": {}},
            400,
            "missing frames",
        ),
        action(
            "event action: revision huge",
            {"action": "empty", "expected_revisions": {"1": HUGE}},
            422,
            "expected_revisions",
        ),
        action(
            "event action: key not an id",
            {"action": "empty", "expected_revisions": {"first": 0}},
            422,
            "expected_revisions",
        ),
        action(
            "event action: unknown field",
            {"action": "empty", "expected_revisions": {}, "scope": "camera"},
            422,
            "scope",
        ),
        action(
            "event action: unknown event",
            {"action": "empty", "expected_revisions": {}},
            404,
            "does not exist",
            f"{V1}/events/999999/actions",
        ),
        Case("similar media: k 0", SIMILAR_MEDIA, f"{V1}/media/{{m}}/similar?k=0", None, 422, "k"),
        Case(
            "similar media: k huge",
            SIMILAR_MEDIA,
            f"{V1}/media/{{m}}/similar?k=201",
            None,
            422,
            "k",
        ),
        Case(
            "similar media: prediction 0",
            SIMILAR_MEDIA,
            f"{V1}/media/{{m}}/similar?prediction=0",
            None,
            422,
            "prediction",
        ),
        Case(
            "similar media: id huge",
            SIMILAR_MEDIA,
            f"{V1}/media/{HUGE}/similar",
            None,
            422,
            "media_id",
        ),
        Case(
            "similar media: no crop vectors",
            SIMILAR_MEDIA,
            f"{V1}/media/{{m}}/similar",
            None,
            400,
            "crop embeddings",
        ),
    ]


def _upload_cases() -> list[Case]:
    """Uploads from field devices (the admin may upload too) and the model pull."""
    sha = "ab" * 32  # a well-formed hash that no body below has
    up = f"{V1}/uploads/{sha}"

    def case(name: str, body: bytes, status: int, words: str, at: str = up, **headers: str) -> Case:
        return Case(
            name,
            UPLOAD,
            at,
            body,
            status,
            words,
            {k.replace("_", "-"): v for k, v in headers.items()},
        )

    return [
        case("upload: not a hash", b"abc", 400, "not a sha256", f"{V1}/uploads/xyz"),
        case("upload: empty", b"", 400, "empty file"),
        case("upload: range syntax", b"abc", 400, "Content-Range", Content_Range="bytes=0-2"),
        case("upload: range length", b"abc", 400, "names 10 bytes", Content_Range="bytes 0-9/20"),
        case("upload: past the end", b"abc", 400, "does not fit", Content_Range="bytes 5-7/6"),
        case("upload: finish body", b"abc", 400, "send no body", Content_Range="bytes */3"),
        case("upload: hash mismatch", b"abc", 400, "hash to"),
        case("upload: time", b"abc", 422, "captured_at", f"{up}?captured_at=dawn"),
        case("upload: zone", b"abc", 400, "time zone", f"{up}?captured_at=2024-05-01T06:00Z"),
        case("upload: camera", b"abc", 422, "camera", f"{up}?camera={'c' * 201}"),
        case("upload: name", b"abc", 422, "name", f"{up}?name={'n' * 256}"),
        Case("upload state: not a hash", UPLOAD_STATE, f"{V1}/uploads/12", None, 400, "sha256"),
        Case("pull: unknown", MODEL_ONNX, f"{V1}/models/nope.onnx", None, 404, "nope"),
        Case("pull: no file", MODEL_ONNX, f"{V1}/models/champion.onnx", None, 409, "no ONNX"),
    ]


def _repeat_cases() -> list[Case]:
    r = f"{V1}/repeats"
    fp = {"decision": "false_positive"}

    def decide(name: str, body: Any, status: int, words: str, group: object = 1) -> Case:
        return Case(name, REPEAT_DECISION, f"{r}/{group}/decision", body, status, words)

    return [
        Case("repeats: iou", REPEATS, f"{r}?iou=0.2", None, 422, "iou"),
        Case("repeats: frames", REPEATS, f"{r}?min_frames=1", None, 422, "min_frames"),
        decide("decide: kind", {"decision": "maybe"}, 422, "decision"),
        decide("decide: no kind", {}, 422, "decision"),
        decide("decide: extra", {**fp, "box": 1}, 422, "box"),
        decide("decide: iou", {**fp, "iou": 1.5}, 422, "iou"),
        decide("decide: group 0", fp, 422, "group", 0),
        decide("decide: group huge", fp, 422, "group", HUGE),
        decide("decide: unknown group", fp, 404, "no undecided repeat group"),
        Case("undo: huge", REPEAT_UNDO, f"{r}/decisions/{HUGE}/undo", None, 422, "decision_id"),
        Case("undo: unknown", REPEAT_UNDO, f"{r}/decisions/999999/undo", None, 404, "not exist"),
        Case("decision: huge", REPEAT_STATUS, f"{r}/decisions/{HUGE}", None, 422, "decision_id"),
        Case("decision: zero", REPEAT_STATUS, f"{r}/decisions/0", None, 422, "decision_id"),
        Case("decision: unknown", REPEAT_STATUS, f"{r}/decisions/999999", None, 404, "not exist"),
    ]


def _shadow_cases() -> list[Case]:
    s, d = f"{V1}/shadow", f"{V1}/shadow/disagreements"
    return [
        Case("shadow: share 2", SHADOW_SET, s, {"share": 2}, 422, "share"),
        Case("shadow: share negative", SHADOW_SET, s, {"share": -0.1}, 422, "share"),
        Case("shadow: share text", SHADOW_SET, s, {"share": "half"}, 422, "share"),
        Case("shadow: no share", SHADOW_SET, s, {}, 422, "share"),
        Case("shadow: extra", SHADOW_SET, s, {"share": 0.1, "model": "x"}, 422, "model"),
        Case("shadow run: limit 0", SHADOW_RUN, f"{s}/run", {"limit": 0}, 422, "limit"),
        Case("shadow run: limit huge", SHADOW_RUN, f"{s}/run", {"limit": HUGE}, 422, "limit"),
        Case("shadow run: share", SHADOW_RUN, f"{s}/run", {"share": 3}, 422, "share"),
        Case("shadow run: extra", SHADOW_RUN, f"{s}/run", {"items": [1]}, 422, "items"),
        Case("disagreements: outcome", SHADOW_LIST, f"{d}?outcome=agree", None, 422, "outcome"),
        Case("disagreements: after", SHADOW_LIST, f"{d}?after=-1", None, 422, "after"),
        Case("disagreements: after huge", SHADOW_LIST, f"{d}?after={HUGE}", None, 422, "after"),
        Case("disagreements: limit 0", SHADOW_LIST, f"{d}?limit=0", None, 422, "limit"),
        Case("disagreements: limit", SHADOW_LIST, f"{d}?limit=501", None, 422, "limit"),
        Case("disagreements: no pair", SHADOW_LIST, d, None, 400, "challenger"),
    ]


def _label_issue_cases() -> list[Case]:
    u = f"{V1}/label-issues"

    def decide(name: str, body: Any, status: int, words: str, issue: object = 1) -> Case:
        return Case(name, LABEL_ISSUE_DECISION, f"{u}/{issue}/decision", body, status, words)

    keep = {"decision": "keep"}
    return [
        Case("label issues: status", LABEL_ISSUES, f"{u}?status=maybe", None, 422, "status"),
        Case("label issues: limit", LABEL_ISSUES, f"{u}?limit=0", None, 422, "limit"),
        Case("label issues: after", LABEL_ISSUES, f"{u}?after_rank=-1", None, 422, "after_rank"),
        Case("label issues: folds", LABEL_ISSUES_REFRESH, f"{u}/refresh?by=day", None, 422, "by"),
        decide("issue decision: kind", {"decision": "relabel"}, 422, "decision"),
        decide("issue decision: none", {}, 422, "decision"),
        decide("issue decision: extra", {**keep, "class": "doe"}, 422, "class"),
        decide("issue decision: revision", {**keep, "expected_revision": -1}, 422, "expected"),
        decide("issue decision: id 0", keep, 422, "issue_id", 0),
        decide("issue decision: id huge", keep, 422, "issue_id", HUGE),
        decide("issue decision: unknown", keep, 404, "does not exist", 999999),
    ]


def _threshold_cases() -> list[Case]:
    t = f"{V1}/thresholds"
    return [
        Case("thresholds: precision 0", THRESHOLDS, t, {"target_precision": 0}, 422, "target"),
        Case("thresholds: precision 2", THRESHOLDS, t, {"target_precision": 2}, 422, "target"),
        Case("thresholds: mode", THRESHOLDS, t, {"mode": "median"}, 422, "mode"),
        Case("thresholds: split", THRESHOLDS, t, {"splits": ["holdout"]}, 422, "splits"),
        Case("thresholds: no splits", THRESHOLDS, t, {"splits": []}, 422, "splits"),
        Case("thresholds: extra", THRESHOLDS, t, {"precision": 0.9}, 422, "precision"),
        Case("thresholds: model", THRESHOLDS, t, {"model": "nope"}, 404, "nope"),
        Case("apply: model", APPLY_THRESHOLDS, f"{t}/apply", {"model": "nope"}, 404, "nope"),
        Case("apply: none computed", APPLY_THRESHOLDS, f"{t}/apply", {}, 404, "compute"),
        Case("stored: model", MODEL_THRESHOLDS, f"{V1}/models/nope/thresholds", None, 404, "nope"),
        Case(
            "prediction settings: model",
            PREDICTION_SETTINGS,
            f"{V1}/models/nope/prediction-settings",
            None,
            404,
            "nope",
        ),
        Case(
            "stored: none computed",
            MODEL_THRESHOLDS,
            f"{V1}/models/champion/thresholds",
            None,
            404,
            "compute",
        ),
    ]


def _quantize_cases() -> list[Case]:
    q = f"{V1}/models/champion/quantize"
    return [
        Case("quantize: method", QUANTIZE, q, {"method": "int4"}, 422, "method"),
        Case("quantize: calibration 0", QUANTIZE, q, {"calibration": 0}, 422, "calibration"),
        Case("quantize: calibration huge", QUANTIZE, q, {"calibration": HUGE}, 422, "calibration"),
        Case("quantize: blank name", QUANTIZE, q, {"name": ""}, 422, "name"),
        Case("quantize: extra", QUANTIZE, q, {"bits": 4}, 422, "bits"),
        Case("quantize: model", QUANTIZE, f"{V1}/models/nope/quantize", {}, 404, "nope"),
        Case("quantize: no model file", QUANTIZE, q, {}, 400, "ONNX file"),
    ]


def _individual_cases() -> list[Case]:
    ind = f"{V1}/individuals"
    return [
        Case("individual: class", NEW_INDIVIDUAL, ind, {"name": "A", "class": "elk"}, 400, "elk"),
        Case("individual: blank", NEW_INDIVIDUAL, ind, {"name": " ", "class": "doe"}, 400, "name"),
        Case("individual: no class", NEW_INDIVIDUAL, ind, {"name": "A"}, 422, "class"),
        Case(
            "individual: field",
            NEW_INDIVIDUAL,
            ind,
            {"name": "A", "class": "doe", "s": 1},
            422,
            "s",
        ),
        Case("individual: huge", INDIVIDUAL, f"{ind}/{HUGE}", None, 422, "individual_id"),
        Case("individual: unknown", INDIVIDUAL, f"{ind}/999999", None, 404, "does not exist"),
        Case("edit: unknown", EDIT_INDIVIDUAL, f"{ind}/999999", {"notes": "x"}, 404, "not exist"),
        Case("edit: version 0", EDIT_INDIVIDUAL, f"{ind}/1", {"version": 0}, 422, "version"),
        Case("assign: no box", SIGHTINGS, f"{ind}/999999/sightings", {}, 422, "label_box_id"),
        Case(
            "assign: source",
            SIGHTINGS,
            f"{ind}/1/sightings",
            {"label_box_id": 1, "source": "rumour"},
            422,
            "source",
        ),
        Case(
            "assign: unknown",
            SIGHTINGS,
            f"{ind}/999999/sightings",
            {"label_box_id": 1},
            404,
            "does not exist",
        ),
        Case("merge: no absorb", MERGE, f"{ind}/1/merge", {}, 422, "absorb_id"),
        Case("merge: self", MERGE, f"{ind}/7/merge", {"absorb_id": 7}, 400, "itself"),
        Case("merge: unknown", MERGE, f"{ind}/999999/merge", {"absorb_id": 1}, 404, "not exist"),
        Case(
            "split: nothing",
            SPLIT,
            f"{ind}/1/split",
            {"name": "B", "sighting_ids": []},
            422,
            "sighting_ids",
        ),
        Case(
            "split: unknown",
            SPLIT,
            f"{ind}/999999/split",
            {"name": "B", "sighting_ids": [1]},
            404,
            "does not exist",
        ),
        Case(
            "suggest all: min 2",
            SUGGEST_ALL,
            f"{ind}/suggestions",
            {"min_similarity": 2},
            422,
            "min",
        ),
        Case(
            "train embedder: epochs 0",
            TRAIN_EMBEDDER,
            f"{ind}/embedder/train",
            {"epochs": 0},
            422,
            "epochs",
        ),
        Case(
            "train embedder: nothing confirmed",
            TRAIN_EMBEDDER,
            f"{ind}/embedder/train",
            {"epochs": 5},
            400,
            "confirm more",
        ),
        Case(
            "promote embedder: no model",
            PROMOTE_EMBEDDER,
            f"{ind}/embedder/promote",
            {},
            422,
            "model",
        ),
        Case(
            "promote embedder: unknown",
            PROMOTE_EMBEDDER,
            f"{ind}/embedder/promote",
            {"model": "no-such-embedder"},
            404,
            "no-such-embedder",
        ),
        Case(
            "promote embedder: not re-ID",
            PROMOTE_EMBEDDER,
            f"{ind}/embedder/promote",
            {"model": "champion"},
            400,
            "not a re-ID embedder",
        ),
        Case(
            "promote embedder: force, no reason",
            PROMOTE_EMBEDDER,
            f"{ind}/embedder/promote",
            {"model": "champion", "force": True},
            400,
            "reason",
        ),
        Case(
            "promote embedder: min",
            PROMOTE_EMBEDDER,
            f"{ind}/embedder/promote",
            {"model": "1", "min_similarity": 2},
            422,
            "min_similarity",
        ),
        Case(
            "promote embedder: empty name",
            PROMOTE_EMBEDDER,
            f"{ind}/embedder/promote",
            {"model": ""},
            422,
            "model",
        ),
        Case(
            "rollback embedder: nothing",
            ROLLBACK_EMBEDDER,
            f"{ind}/embedder/rollback",
            {},
            400,
            "nothing to roll back",
        ),
        Case(
            "rollback embedder: expected 0",
            ROLLBACK_EMBEDDER,
            f"{ind}/embedder/rollback",
            {"expected": 0},
            422,
            "expected",
        ),
        Case(
            "rollback embedder: field",
            ROLLBACK_EMBEDDER,
            f"{ind}/embedder/rollback",
            {"to": 3},
            422,
            "to",
        ),
        Case("unassign: huge", UNASSIGN, f"{V1}/sightings/{HUGE}", None, 422, "sighting_id"),
        Case("unassign: unknown", UNASSIGN, f"{V1}/sightings/999999", None, 404, "not exist"),
        Case(
            "suggestions: k 0", SUGGESTIONS, f"{V1}/label-boxes/1/suggestions?k=0", None, 422, "k"
        ),
        Case(
            "suggestions: unknown",
            SUGGESTIONS,
            f"{V1}/label-boxes/999999/suggestions",
            None,
            404,
            "does not exist",
        ),
        Case(
            "assign: track",
            SIGHTINGS,
            f"{ind}/1/sightings",
            {"label_box_id": 1, "track": "everything"},
            422,
            "track",
        ),
        Case("move: no individual", MOVE, f"{V1}/sightings/1/move", {}, 422, "individual_id"),
        Case(
            "move: unknown",
            MOVE,
            f"{V1}/sightings/999999/move",
            {"individual_id": 1},
            404,
            "does not exist",
        ),
        Case(
            "move: version 0",
            MOVE,
            f"{V1}/sightings/1/move",
            {"individual_id": 1, "version": 0},
            422,
            "version",
        ),
        Case("identities: k 0", IDENTITIES, f"{V1}/media/1/identities?k=0", None, 422, "k"),
        Case(
            "identities: unknown",
            IDENTITIES,
            f"{V1}/media/999999/identities",
            None,
            404,
            "does not exist",
        ),
    ]


def _analytics_cases() -> list[Case]:
    url = f"{V1}/analytics"
    return [
        Case("analytics: interval", ANALYTICS, f"{url}?interval=-1", None, 422, "interval"),
        Case(
            "analytics: interval huge", ANALYTICS, f"{url}?interval={HUGE}", None, 422, "interval"
        ),
        Case("analytics: period", ANALYTICS, f"{url}?period=fortnight", None, 422, "period"),
        Case("analytics: source", ANALYTICS, f"{url}?source=rumours", None, 422, "source"),
        Case("analytics: per", ANALYTICS, f"{url}?per=sequence", None, 422, "per"),
        Case("analytics: per empty", ANALYTICS, f"{url}?per=", None, 422, "per"),
        Case("analytics: since", ANALYTICS, f"{url}?since=yesterday", None, 422, "since"),
        Case(
            "analytics: since after until",
            ANALYTICS,
            f"{url}?since=2024-02-01&until=2024-01-01",
            None,
            400,
            "since must come before",
        ),
        Case("analytics: table", ANALYTICS_CSV, f"{url}/everything.csv", None, 422, "table"),
        Case(
            "analytics csv: period", ANALYTICS_CSV, f"{url}/rates.csv?period=x", None, 422, "period"
        ),
        Case("analytics csv: per", ANALYTICS_CSV, f"{url}/counts.csv?per=photo", None, 422, "per"),
    ]


def _window_cases() -> list[Case]:
    """The audio routes on this image project: bounds first, then 'not a window'."""
    w = f"{V1}/windows"
    return [
        Case("windows: limit 0", WINDOWS, f"{w}?limit=0", None, 422, "limit"),
        Case("window: huge id", WINDOW, f"{w}/{HUGE}", None, 422, "media_id"),
        Case("window: an image", WINDOW, f"{w}/{{m}}", None, 404, "window"),
        Case("spectrogram: view", SPECTROGRAM, f"{w}/{{m}}/spectrogram?view=x", None, 422, "view"),
        Case("clip: context -1", CLIP, f"{w}/{{m}}/clip?context=-1", None, 422, "context"),
        Case("clip: an image", CLIP, f"{w}/{{m}}/clip", None, 404, "window"),
        Case(
            "window labels: revision",
            WINDOW_LABELS,
            f"{w}/{{m}}/labels",
            {"expected_revision": -1},
            422,
            "expected_revision",
        ),
        Case("similar: k 0", SIMILAR, f"{w}/{{m}}/similar?k=0", None, 422, "k"),
        Case("clip search: k 0", SIMILAR_CLIP, f"{w}/similar-to-clip?k=0", b"x", 422, "k"),
        Case("clip search: not audio", SIMILAR_CLIP, f"{w}/similar-to-clip", b"xyz", 400, "audio"),
    ]


CASES = {c.name: c for c in cases()}


def _fill(value: Any, media_id: int, empty_id: int) -> Any:
    """The case's URL or body with {m} and {e} replaced by real media ids."""
    if isinstance(value, str):
        filled = value.replace("{m}", str(media_id)).replace("{e}", str(empty_id))
        return int(filled) if value in ("{m}", "{e}") else filled
    if isinstance(value, list):
        return [_fill(v, media_id, empty_id) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, media_id, empty_id) for k, v in value.items()}
    return value


def test_every_endpoint_that_takes_input_has_bad_input_cases(review_setup):
    app = create_app(review_setup.project, secret="test-secret")
    takes_input = set()
    endpoints = set()
    for path, operations in app.openapi()["paths"].items():
        for method, op in operations.items():
            endpoints.add((method.upper(), path))
            if op.get("parameters") or op.get("requestBody"):
                takes_input.add((method.upper(), path))
    covered = {c.endpoint for c in CASES.values()}
    assert not takes_input - covered, "endpoints without bad-input cases"
    assert not covered - endpoints, "cases for endpoints that no longer exist"
    assert len(CASES) == len(cases()), "case names must be unique"


def test_bad_input_is_refused_and_changes_nothing(app_client, review_setup):
    """One project for the whole table (each case must leave it as it was); every failing
    case is reported by name."""
    client = app_client("ada")
    media_id = first_with_boxes(review_setup.project, review_setup.model_id)
    empty_id = first_without_boxes(review_setup.project, review_setup.model_id)
    failures = []
    for case in CASES.values():
        before = db_state(review_setup.project)
        problem = _refusal_problem(client, case, media_id, empty_id)
        if problem is None and db_state(review_setup.project) != before:
            problem = "the database changed"
        if problem is not None:
            failures.append(f"{case.name}: {problem}")
    assert not failures, "\n".join(failures)


def _refusal_problem(client: Any, case: Case, media_id: int, empty_id: int) -> str | None:
    """What is wrong with the answer to ``case``, or None if it is the expected refusal."""
    url = _fill(case.url, media_id, empty_id)
    if isinstance(case.body, bytes):
        sent = {"content": case.body, "headers": {"Content-Type": "application/json"}}
        sent["headers"] |= case.headers or {}
    else:
        sent = {"json": _fill(case.body, media_id, empty_id)} if case.body is not None else {}
    try:
        response = client.request(case.endpoint[0], url, **sent)
    except Exception as exc:  # noqa: BLE001 (any server error is a 500 for a real client)
        return f"the server raised {exc!r}"
    if response.status_code != case.status:
        return f"status {response.status_code}, not {case.status}: {response.text[:300]}"
    if response.headers.get("content-type") != "application/json":
        return f"not a JSON error: {response.headers.get('content-type')}"
    error = response.json()["error"]
    if case.words not in error["message"] or error["status"] != case.status:
        return f"the error does not say {case.words!r}: {error}"
    return None


ENDPOINTS = [
    ("POST", "/api/v1/media/{id}/actions"),
    ("PUT", "/api/v1/media/{id}/labels"),
    ("POST", "/api/v1/batch"),
    ("POST", "/api/v1/users"),
    ("PATCH", "/api/v1/users/rita"),
    ("POST", "/api/v1/tokens"),
]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_malformed_json_is_refused(app_client, review_setup, method, url):
    client = app_client("ada")
    before = db_state(review_setup.project)
    response = client.request(
        method,
        url.format(id=first_with_boxes(review_setup.project, review_setup.model_id)),
        content=b'{"action": "accept", ',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert "not valid JSON" in response.json()["error"]["message"]
    assert db_state(review_setup.project) == before


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_oversized_payload_is_refused(app_client, review_setup, method, url):
    client = app_client("ada")
    before = db_state(review_setup.project)
    huge = b'{"note": "' + b"x" * (MAX_BODY_BYTES + 10) + b'"}'
    response = client.request(
        method,
        url.format(id=first_with_boxes(review_setup.project, review_setup.model_id)),
        content=huge,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text
    assert "larger than" in response.json()["error"]["message"]
    assert db_state(review_setup.project) == before


def test_oversized_streamed_payload_is_refused(app_client, review_setup):
    """A body without Content-Length is counted while it streams in."""
    client = app_client("ada")
    before = db_state(review_setup.project)

    def chunks():
        for _ in range(20):
            yield b"x" * 100_000

    response = client.post(
        "/api/v1/batch", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert db_state(review_setup.project) == before


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("class=elk", "unknown class 'elk'"),
        ("min_score=2", "between 0 and 1"),
        ("min_score=0.8&max_score=0.2", "above max_score"),
        ("reviewed=maybe", "yes, no or any"),
        ("sort=colour", "unknown sort"),
        ("from=yesterday", "must be a date"),
        ("camera=nowhere", "unknown camera"),
        ("cursor=bm9wZQ", "cursor"),
        ("limit=100000", "limit"),
        ("colour=red", "unknown filter parameter"),
    ],
)
def test_bad_grid_filters_say_what_is_wrong(app_client, review_setup, query, words):
    client = app_client("rita")
    response = client.get(f"/api/v1/media?{query}")
    assert 400 <= response.status_code < 500
    assert words in response.json()["error"]["message"]
    if not query.startswith("limit"):  # the page has a fixed page size
        page = client.get(f"/grid?{query}", headers={"Accept": "text/html"})
        assert 400 <= page.status_code < 500 and words.split("'")[0] in page.text


@pytest.mark.parametrize("size", [MAX_BODY_BYTES + 1, 20 * MAX_BODY_BYTES])
def test_oversized_body_gets_a_real_413_over_http(live_url, review_setup, size):
    """Over a real socket: the client reads a 413 with the JSON error (not a reset
    connection), and the same connection then serves the next request."""
    before = db_state(review_setup.project)
    with httpx.Client(base_url=live_url) as client:
        login(client, "ada")
        media_id = first_with_boxes(review_setup.project, review_setup.model_id)
        response = client.post(
            f"/api/v1/media/{media_id}/actions",
            content=b'{"action": "note", "note": "' + b"x" * size + b'"}',
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 413, response.text
        assert response.json()["error"]["type"] == "PayloadTooLarge"
        assert client.get("/api/v1/me").status_code == 200
    assert db_state(review_setup.project) == before


def test_oversized_body_on_a_raw_socket_is_answered(live_url):
    """A client that writes the whole body before reading (as most do) gets the 413."""
    host, port = live_url.removeprefix("http://").split(":")
    body = b"x" * (3 * MAX_BODY_BYTES)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/batch HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        reply = b""
        while b"PayloadTooLarge" not in reply and (chunk := sock.recv(65536)):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413 "), reply[:200]
    assert b"PayloadTooLarge" in reply
