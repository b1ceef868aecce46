"""The one error hierarchy of wildloop.

Services raise these; the web layer maps them to HTTP statuses and the CLI to exit codes,
each in one place. Messages say what happened and what to do next.
"""


class WildloopError(Exception):
    """Base of every error wildloop raises on purpose."""

    http_status = 500
    exit_code = 1


class BadInput(WildloopError):
    """The caller gave input that cannot be used (malformed file, unknown class...)."""

    http_status = 400
    exit_code = 2


class NotFound(WildloopError):
    """A named thing (project, media, model version, job) does not exist."""

    http_status = 404
    exit_code = 3


class Conflict(WildloopError):
    """The request clashes with the current state (stale version, job already running)."""

    http_status = 409
    exit_code = 4


class PermissionDenied(WildloopError):
    """The actor's role does not allow this action."""

    http_status = 403
    exit_code = 5


class Unauthenticated(PermissionDenied):
    """No valid login or API token came with the request."""

    http_status = 401


class PayloadTooLarge(BadInput):
    """The request body is larger than the server accepts."""

    http_status = 413


class IntegrityError(WildloopError):
    """Stored data failed a check (tampered artifact, hash mismatch)."""

    http_status = 500
    exit_code = 6


class JobFailed(WildloopError):
    """A persistent job ended in the failed state."""

    http_status = 500
    exit_code = 7


class Unavailable(WildloopError):
    """Something needed is not installed or not present (an extra, a weights file)."""

    http_status = 503
    exit_code = 8
