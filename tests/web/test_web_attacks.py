"""Attacks on the dashboard from the network (issue 9, findings 7 and 14), each run
against a real controller on a real Mosquitto: DNS rebinding onto a loopback dashboard,
forged X-Forwarded-For to dodge the login lockout, and the session cookie behind TLS."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from tests.services.conftest import Observer
from tests.web.conftest import PASSWORD, Dashboard

pytestmark = pytest.mark.broker

SIREN = "home/control/alarm"


# ------------------------------------------------------------------ finding 7


def test_dns_rebinding_gets_no_loopback_session_and_cannot_switch_the_siren(
    dashboard_factory: Callable[..., Dashboard], observer: Observer
) -> None:
    """A page on 127.attacker.example, rebound to 127.0.0.1, asks the loopback dashboard
    for a session, then switches the siren off: refused at the first step."""
    dashboard = dashboard_factory(loopback=True)
    port = dashboard.url.rpartition(":")[2]
    with dashboard.client() as owner:  # the siren is sounding
        csrf = owner.get("/api/session").json()["csrf_token"]
        on = owner.post("/api/actuators/siren", json={"on": True}, headers={"X-CSRF-Token": csrf})
        assert on.status_code == 200, on.text
    observer.wait_for(SIREN, "ON")
    with dashboard.client() as browser:
        for name in ("127.attacker.example", "127.0.0.1.nip.io", "localhost.attacker.example"):
            host = f"{name}:{port}"
            response = browser.get("/api/session", headers={"Host": host})
            assert response.status_code == 401, (name, response.text)
            assert "set-cookie" not in response.headers
            csrf = response.json().get("csrf_token", "")
            switched = browser.post(
                "/api/actuators/siren",
                json={"on": False},
                headers={"Host": host, "Origin": f"http://{host}", "X-CSRF-Token": csrf},
            )
            assert switched.status_code == 401, (name, switched.text)
    # Malformed Host headers are no loopback name either.
    for host in ("127.0.0.1:80:x", "127.0.0.1:x", "[::1]x", "127.0.0.1@evil"):
        with dashboard.client() as browser:
            assert browser.get("/api/session", headers={"Host": host}).status_code == 401
    # The real loopback names still get in.
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "127.0.0.1"):
        with dashboard.client() as browser:
            assert browser.get("/api/session", headers={"Host": host}).status_code == 200
    time.sleep(0.2)  # an OFF the attack caused would have arrived by now
    assert [m.payload for _, m in observer.seen if m.topic == SIREN][-1] == b"ON"


def test_a_loopback_session_is_refused_under_another_host_name(
    dashboard_factory: Callable[..., Dashboard],
) -> None:
    dashboard = dashboard_factory(loopback=True)
    with dashboard.client() as browser:
        session = browser.get("/api/session")
        assert session.status_code == 200 and session.json()["user"] == "local"
        csrf = {"X-CSRF-Token": session.json()["csrf_token"]}
        assert browser.get("/api/state").status_code == 200
        rebound = {"Host": "alarm.attacker.example", **csrf}
        assert browser.get("/api/state", headers=rebound).status_code == 401
        switched = browser.post("/api/actuators/siren", json={"on": False}, headers=rebound)
        assert switched.status_code == 401


# ----------------------------------------------------------------- finding 14


def _wrong_logins_from_forged_addresses(client: httpx.Client) -> None:
    for attempt in range(5):
        response = client.post(
            "/api/login",
            json={"user": f"guess{attempt}", "password": "x"},
            headers={"X-Forwarded-For": f"203.0.113.{attempt}"},
        )
        assert response.status_code == 401, response.text


def test_forged_forwarded_for_does_not_dodge_the_address_lockout(dashboard: Dashboard) -> None:
    """Five wrong logins from one machine, each claiming another address in
    X-Forwarded-For: the machine's own address is locked all the same."""
    with dashboard.client() as attacker:
        _wrong_logins_from_forged_addresses(attacker)
        response = attacker.post(
            "/api/login",
            json={"user": "alice", "password": PASSWORD},
            headers={"X-Forwarded-For": "203.0.113.99"},
        )
        assert response.status_code == 429, response.text


def test_the_cookie_is_not_secure_over_plain_http_whatever_the_headers_say(
    dashboard: Dashboard,
) -> None:
    with dashboard.client() as client:
        response = client.post(
            "/api/login",
            json={"user": "alice", "password": PASSWORD},
            headers={"X-Forwarded-Proto": "https"},  # from no trusted proxy: ignored
        )
        assert response.status_code == 200
        assert "secure" not in response.headers["set-cookie"].lower()


def test_behind_a_trusted_proxy_the_cookie_is_secure_and_addresses_are_forwarded(
    dashboard_factory: Callable[..., Dashboard],
) -> None:
    dashboard = dashboard_factory(proxies="[127.0.0.1, '::1']")
    with dashboard.client() as proxy:
        over_tls = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
        body = {"user": "alice", "password": PASSWORD}
        response = proxy.post("/api/login", json=body, headers=over_tls)
        assert response.status_code == 200
        assert "; secure" in response.headers["set-cookie"].lower()
        # (the client keeps a Secure cookie for https: hand it over as the proxy would)
        cookie = f"homeguard_session={response.cookies['homeguard_session']}"
        token = response.json()["csrf_token"]
        headers = {"X-CSRF-Token": token, "Cookie": cookie, **over_tls}
        logout = proxy.post("/api/logout", headers=headers)
        assert logout.status_code == 204, logout.text
        assert "; secure" in logout.headers["set-cookie"].lower()
        plain = proxy.post("/api/login", json=body, headers={"X-Forwarded-Proto": "http"})
        assert "secure" not in plain.headers["set-cookie"].lower()
        # The proxy's word on the client's address is taken: one client is locked...
        for attempt in range(5):
            wrong = {"user": f"guess{attempt}", "password": "x"}
            forwarded = {"X-Forwarded-For": "203.0.113.4"}
            assert proxy.post("/api/login", json=wrong, headers=forwarded).status_code == 401
        locked = proxy.post("/api/login", json=body, headers={"X-Forwarded-For": "203.0.113.4"})
        assert locked.status_code == 429
        # ...and another one behind the same proxy is not.
        other = proxy.post("/api/login", json=body, headers={"X-Forwarded-For": "203.0.113.50"})
        assert other.status_code == 200


def test_trusted_proxies_must_be_addresses() -> None:
    from homeguard.config import parse_config
    from homeguard.errors import ConfigError

    web = parse_config("web: {trusted_proxies: [127.0.0.1, '10.0.0.0/24', '::1']}\n").web
    assert web.trusted_proxies == ("127.0.0.1", "10.0.0.0/24", "::1")
    assert parse_config("web: {}\n").web.trusted_proxies == ()
    with pytest.raises(ConfigError, match=r"trusted_proxies"):
        parse_config("web: {trusted_proxies: [proxy.lan]}\n")
