"""The apprise adapter: errors without secrets, apprise's log kept out of ours."""

from __future__ import annotations

import logging

import pytest

from homeguard.adapters.notifier import scrub, send, url_problem
from homeguard.adapters.snapshot import fetch_image
from homeguard.errors import NotifyError
from tests.conftest import free_port


def test_a_failed_send_names_no_secret_and_apprise_logs_nothing_of_ours(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"json://watcher:s3cret-pass@127.0.0.1:{free_port()}/hooks/t0ken-value"
    with caplog.at_level(logging.DEBUG), pytest.raises(NotifyError) as caught:
        send(url, "homeguard: ALARM", "Alarm triggered by front", timeout=5)
    assert "Connection error" in str(caught.value) and "127.0.0.1" in str(caught.value)
    logged = " ".join(record.getMessage() for record in caplog.records)
    for secret in ("s3cret-pass", "t0ken-value", "watcher"):
        assert secret not in str(caught.value) and secret not in logged
    assert not [r for r in caplog.records if r.name.startswith(("apprise", "urllib3"))]


def test_urls_apprise_does_not_know_are_named_by_their_scheme_only() -> None:
    assert url_problem("json://127.0.0.1:8080/hook") is None
    assert url_problem("mailto://127.0.0.1:2525?from=a@example.com&to=me@example.com") is None
    problem = url_problem("nonsense://user:pw@host/secret-path")
    assert problem == "apprise does not understand this nonsense:// URL (see its wiki for the form)"
    with pytest.raises(NotifyError, match="nonsense://"):
        send("nonsense://user:pw@host/secret-path", "t", "b")


def test_scrub_blanks_every_part_of_a_url_but_its_scheme_and_host() -> None:
    telegram = "tgram://123456789:AAH-bot-token/987654321"
    assert scrub(f"failed: {telegram} said no", telegram) == "failed: *** said no"
    assert "AAH-bot-token" not in scrub("bot 123456789:AAH-bot-token refused", telegram)
    mail = "mailtos://alarm:pa55word@smtp.example.com?to=me@example.com"
    text = scrub("login pa55word refused by smtp.example.com for alarm", mail)
    assert "pa55word" not in text and "smtp.example.com" in text


def test_a_snapshot_url_that_does_not_answer_names_only_its_host() -> None:
    with pytest.raises(NotifyError) as caught:
        fetch_image(f"http://user:pw@127.0.0.1:{free_port()}/api/front/latest.jpg?t=x", 1.0)
    assert str(caught.value).startswith("no snapshot from 127.0.0.1:")
    assert "pw" not in str(caught.value).replace("127.0.0.1", "")
