"""Password guessing is slowed: failures per account and per address, then a wait."""

from __future__ import annotations

from tests.support.review import PASSWORD, csrf_of
from wildloop.users.throttle import LoginThrottle


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_account_is_refused_after_its_failures_until_the_oldest_leaves_the_window():
    clock = FakeClock()
    throttle = LoginThrottle(per_account=3, per_address=100, window_s=60, clock=clock)
    for _ in range(3):
        assert throttle.wait_seconds("Rita", "10.0.0.1") == 0
        throttle.failed("rita", "10.0.0.1")
        clock.now += 10
    assert throttle.wait_seconds("RITA", "10.0.0.2") == 30  # usernames match case-blind
    assert throttle.wait_seconds("remy", "10.0.0.1") == 0  # other accounts are not locked
    clock.now += 30
    assert throttle.wait_seconds("rita", "10.0.0.1") == 0
    throttle.failed("rita", "10.0.0.1")
    assert throttle.wait_seconds("rita", "10.0.0.1") == 10


def test_one_address_trying_many_accounts_is_refused_and_success_clears_the_account():
    clock = FakeClock()
    throttle = LoginThrottle(per_account=3, per_address=4, window_s=60, clock=clock)
    for name in ("a", "b", "c", "d"):
        throttle.failed(name, "10.0.0.9")
    assert throttle.wait_seconds("e", "10.0.0.9") == 60
    assert throttle.wait_seconds("e", "10.0.0.8") == 0
    throttle.failed("rita", "10.0.0.1")
    throttle.failed("rita", "10.0.0.2")
    throttle.succeeded("rita")
    throttle.failed("rita", "10.0.0.3")
    throttle.failed("rita", "10.0.0.4")
    assert throttle.wait_seconds("rita", "10.0.0.5") == 0
    throttle.failed("rita", "10.0.0.5")
    assert throttle.wait_seconds("rita", "10.0.0.6") == 60


def test_memory_stays_bounded_when_random_usernames_are_sprayed():
    clock = FakeClock()
    throttle = LoginThrottle(
        per_account=3, per_address=10**9, window_s=60, max_keys=50, clock=clock
    )
    for i in range(500):
        throttle.failed(f"user{i}", "10.0.0.1")
        clock.now += 1
    assert len(throttle._failures) <= 50
    assert throttle.wait_seconds("user499", "10.0.0.2") == 0  # 1 failure: below the limit


def test_the_login_form_answers_429_after_five_wrong_passwords(app_client, review_setup):
    client = app_client(None)
    token = csrf_of(client.get("/login").text)
    for _ in range(5):
        bad = client.post(
            "/login", data={"username": "rita", "password": "guess", "csrf_token": token}
        )
        assert bad.status_code == 401
    right = client.post(
        "/login",
        data={"username": "rita", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert right.status_code == 429
    assert "too many failed logins" in right.text and "try again in" in right.text
    other = client.post(
        "/login",
        data={"username": "remy", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert other.status_code == 303  # another account from the same address still logs in
