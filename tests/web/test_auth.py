"""Sessions, CSRF tokens and the login lockout, on a fake clock; and the config's
dashboard keys (passwords hashed at load, loopback off by default)."""

from __future__ import annotations

import os

import pytest

from homeguard.adapters.web.auth import Sessions, host_name, is_loopback
from homeguard.config import parse_config
from homeguard.core.codes import hash_pin, verify_pin
from homeguard.errors import ConfigError, LoginFailed, LoginLocked


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sessions(clock: Clock) -> Sessions:
    users = {"alice": hash_pin("secret", os.urandom(16), log2_n=4, r=1)}
    return Sessions(users, clock=clock, lifetime=60.0)


def test_a_session_lasts_while_used_and_expires_when_idle() -> None:
    clock = Clock()
    store = sessions(clock)
    session = store.login("alice", "secret", "10.0.0.1")
    clock.now += 50
    assert store.get(session.token) is not None  # used: renewed for another 60 s
    clock.now += 50
    assert store.get(session.token) is not None
    clock.now += 61
    assert store.get(session.token) is None
    assert store.get(None) is None and store.get("forged") is None


def test_csrf_token_must_match_its_session() -> None:
    store = sessions(Clock())
    one, two = store.login("alice", "secret", "a"), store.login("alice", "secret", "a")
    assert Sessions.csrf_ok(one, one.csrf)
    assert not Sessions.csrf_ok(one, two.csrf)
    assert not Sessions.csrf_ok(one, None)
    store.close(one.token)
    assert store.get(one.token) is None and store.get(two.token) is not None


def test_five_wrong_passwords_lock_the_user_then_the_lock_doubles() -> None:
    clock = Clock()
    store = sessions(clock)
    for _ in range(5):
        with pytest.raises(LoginFailed):
            store.login("alice", "wrong", "10.0.0.1")
    with pytest.raises(LoginLocked) as locked:
        store.login("alice", "secret", "10.0.0.2")  # the user is locked, from anywhere
    assert locked.value.retry_after == pytest.approx(60)
    clock.now += 61
    for _ in range(5):
        with pytest.raises(LoginFailed):
            store.login("alice", "wrong", "10.0.0.3")
    with pytest.raises(LoginLocked) as again:
        store.login("alice", "secret", "10.0.0.4")
    assert again.value.retry_after == pytest.approx(120)
    clock.now += 121
    assert store.login("alice", "secret", "10.0.0.4").user == "alice"


def test_one_client_guessing_names_is_locked_too() -> None:
    store = sessions(Clock())
    for name in ("bob", "carol", "dave", "erin", "frank"):
        with pytest.raises(LoginFailed):
            store.login(name, "x", "10.0.0.9")
    with pytest.raises(LoginLocked):
        store.login("alice", "secret", "10.0.0.9")
    assert store.login("alice", "secret", "10.0.0.8").user == "alice"


def test_loopback_names() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.1.2.3") and is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("10.0.0.1") and not is_loopback(None)
    assert host_name("127.0.0.1:8080") == "127.0.0.1"
    assert host_name("[::1]:8080") == "::1"
    assert host_name("localhost") == "localhost"
    assert host_name(None) is None
    # Exactly loopback: a DNS name that starts like one is not (DNS rebinding).
    for name in ("127.attacker.example", "127.0.0.1.nip.io", "localhost.evil", "127.1", ""):
        assert not is_loopback(name), name
    assert is_loopback("LOCALHOST") and is_loopback("127.255.255.254")
    for header in ("127.0.0.1:80:x", "127.0.0.1:x", "[::1]x", "[::1]:8o"):
        assert host_name(header) is None, header
    assert host_name("[::1]") == "::1" and host_name("::1") == "::1"


def test_dashboard_passwords_are_hashed_at_load_and_never_kept() -> None:
    config = parse_config("users: [{name: alice, pin: '1234', password: swordfish}]\n")
    user = config.users[0]
    assert user.password_hash is not None and verify_pin(user.password_hash, "swordfish")
    assert "swordfish" not in repr(config) and "swordfish" not in config.model_dump_json()
    with pytest.raises(ConfigError, match="password_hash"):
        parse_config("users: [{name: alice, pin: '1234', password_hash: plain}]\n")
    both = f"password: abcd, password_hash: '{user.password_hash}'"
    with pytest.raises(ConfigError, match="either password or password_hash"):
        parse_config(f"users: [{{name: a, pin: '1234', {both}}}]\n")
    with pytest.raises(ConfigError, match="at least 4"):
        parse_config("users: [{name: alice, pin: '1234', password: abc}]\n")


def test_web_defaults_and_keys() -> None:
    web = parse_config("web: {port: 9090}\n").web
    assert (web.host, web.port, web.enabled, web.loopback_without_login) == (
        "127.0.0.1",
        9090,
        True,
        False,
    )
    web = parse_config("web: {enabled: false, loopback_without_login: true}\n").web
    assert not web.enabled and web.loopback_without_login
    with pytest.raises(ConfigError, match=r"web\.loopback"):
        parse_config("web: {loopback: true}\n")
