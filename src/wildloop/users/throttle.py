"""Slowing down password guessing: failed logins are counted per account and per address.

Argon2 makes each guess cost ~0.1 s of server time, which is not a limit on its own. After
``per_account`` failures for one username, or ``per_address`` for one client address, within
``window_s`` seconds, further attempts are refused until the oldest failure leaves the
window; a successful login clears its account's count. Counts live in the web process's
memory: a restart forgets them, and several web processes each keep their own.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoginThrottle:
    per_account: int = 5
    per_address: int = 20
    window_s: float = 300.0
    max_keys: int = 10_000  # bounds memory when someone sprays random usernames
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def wait_seconds(self, username: str, address: str) -> float:
        """0 when a login attempt may go ahead, else how long until one may."""
        now = self.clock()
        with self._lock:
            waits = [
                self._wait(_account_key(username), self.per_account, now),
                self._wait(_address_key(address), self.per_address, now),
            ]
        return max(waits)

    def failed(self, username: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) >= self.max_keys:
                self._forget_expired(now)
            for key in (_account_key(username), _address_key(address)):
                if key in self._failures or len(self._failures) < self.max_keys:
                    self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(_account_key(username), None)

    def _wait(self, key: str, limit: int, now: float) -> float:
        times = self._failures.get(key)
        if times is None:
            return 0.0
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return 0.0
        if len(times) < limit:
            return 0.0
        return times[len(times) - limit] + self.window_s - now

    def _forget_expired(self, now: float) -> None:
        for key in list(self._failures):
            self._wait(key, 1, now)


def _account_key(username: str) -> str:
    return "user:" + username.strip().lower()


def _address_key(address: str) -> str:
    return "addr:" + address
