"""Persistent jobs: rows in ``jobs`` and ``job_chunks``, claimed atomically by workers.

- :mod:`wildloop.jobs.records`: submit, cancel, retry, and status as JSON-ready dicts.
- :mod:`wildloop.jobs.kinds`: what a job kind is (a handler per chunk, an optional finaliser)
  and how handlers report progress.
- :mod:`wildloop.jobs.claims`: the conditional UPDATEs that claim, heartbeat, finish and
  reclaim chunks.
- :mod:`wildloop.jobs.worker`: the loop that runs chunks (in a thread or a separate process).
- :mod:`wildloop.jobs.local`: the embedded executor (an in-process pool of workers).
"""
