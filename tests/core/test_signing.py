"""Signed sensor messages: the canonical form, signing, and every way a check refuses."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeguard.core import signing
from homeguard.core.signing import Reason, canonical, sign, signature, verify
from homeguard.errors import PayloadError, SecurityRejected

SECRET = b"correct horse battery staple"
NOW = 1764288000.0
FIELDS: dict[str, Any] = {"state": "OPEN", "seq": 17, "ts": 1764288000.1, "battery": 87}
# The worked example of docs/security.md (checked there with openssl too).
VECTOR = "1644ba1ba5ac29c0f0c13656371a9dafcb6f660df6714f432c3c9f940bbfcf6f"


def payload(fields: dict[str, Any], secret: bytes = SECRET, device: str = "front") -> bytes:
    return json.dumps(sign(secret, device, fields)).encode()


def check(raw: bytes, last_seq: int | None = None, now: float = NOW, **kw: Any) -> Any:
    args: dict[str, Any] = {"device_id": "front", "secret": SECRET, "window": 30.0, **kw}
    return verify(raw, last_seq=last_seq, now=now, **args)


def refused(reason: Reason, raw: bytes, **kw: Any) -> SecurityRejected:
    with pytest.raises(SecurityRejected) as caught:
        check(raw, **kw)
    assert caught.value.reason == reason
    assert isinstance(caught.value, PayloadError)  # counted like any rejected message
    return caught.value


# ------------------------------------------------------------------ canonical form


def test_the_documented_vector() -> None:
    assert signing.signed_bytes("front", FIELDS) == (
        b'homeguard-sig-v1\nfront\n{"battery":87,"seq":17,"state":"OPEN","ts":1764288000.1}'
    )
    assert signature(SECRET, "front", FIELDS) == VECTOR
    assert sign(SECRET, "front", FIELDS) == {**FIELDS, "sig": VECTOR}


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1764288000.0, "1764288000"),  # integral: no ".0", as JavaScript writes it
        (1764288000.25, "1764288000.25"),
        (0.1, "0.1"),
        (0.0, "0"),
        (-0.0, "0"),
        (-2.5, "-2.5"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (1.5e-10, "1.5e-10"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (123.456, "123.456"),
    ],
)
def test_numbers_are_written_as_ecmascript_does(number: float, text: str) -> None:
    assert canonical({"n": number}) == f'{{"n":{text}}}'.encode()


def test_keys_sort_by_utf16_code_units_and_strings_escape_minimally() -> None:
    fields = {"b": 1, "a": 'é\u2028\x01"\\', "\U0001f600": True, "\uff61": None, "A": False}
    assert (
        canonical(fields)
        == (
            '{"A":false,"a":"é\u2028\\u0001\\"\\\\","b":1,"\U0001f600":true,"\uff61":null}'
        ).encode()
    )


def test_key_order_and_spacing_on_the_wire_do_not_matter() -> None:
    signed = sign(SECRET, "front", FIELDS)
    reordered = dict(reversed(list(signed.items())))
    spaced = json.dumps(reordered, indent=3).encode()
    assert check(spaced).fields == FIELDS
    assert check(b"\xef\xbb\xbf" + payload(FIELDS)).seq == 17  # a BOM is fine too


def test_the_body_is_the_fields_without_the_signature() -> None:
    verified = check(payload(FIELDS))
    assert json.loads(verified.body) == FIELDS
    assert b"sig" not in verified.body
    assert (verified.seq, verified.ts) == (17, 1764288000.1)


@settings(max_examples=300, deadline=None)
@given(
    fields=st.dictionaries(
        st.text(max_size=8).filter(lambda k: k != "sig"),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-(2**53) + 1, 2**53 - 1),
            st.floats(allow_nan=False, allow_infinity=False),
            st.text(max_size=12),
        ),
        max_size=6,
    ),
    seq=st.integers(0, 2**53 - 1),
    ts=st.floats(0, 1e11, exclude_max=True),
)
def test_whatever_is_signed_verifies_and_reads_back(
    fields: dict[str, Any], seq: int, ts: float
) -> None:
    fields = {**fields, "seq": seq, "ts": ts}
    try:
        raw = payload(fields)
    except SecurityRejected:  # a lone surrogate: not representable, never signed
        return
    verified = check(raw, now=ts)
    assert json.loads(verified.body) == json.loads(canonical(fields))
    assert verified.seq == seq and math.isclose(verified.ts, ts)


# ----------------------------------------------------------------------- refusals


def test_a_wrong_secret_a_wrong_device_or_a_changed_field_is_a_bad_signature() -> None:
    refused(Reason.BAD_SIGNATURE, payload(FIELDS, secret=b"another secret"))
    refused(Reason.BAD_SIGNATURE, payload(FIELDS, device="back"))
    tampered = {**sign(SECRET, "front", FIELDS), "state": "CLOSED"}
    refused(Reason.BAD_SIGNATURE, json.dumps(tampered).encode())
    added = {**sign(SECRET, "front", FIELDS), "battery": 1}
    refused(Reason.BAD_SIGNATURE, json.dumps(added).encode())


def test_an_upper_case_signature_is_the_same_signature() -> None:
    signed = sign(SECRET, "front", FIELDS)
    signed["sig"] = signed["sig"].upper()
    assert check(json.dumps(signed).encode()).seq == 17


@pytest.mark.parametrize(
    "raw",
    [b"OPEN", b'{"state": "OPEN", "seq": 1, "ts": 1764288000}', b"[]", b"{", b"", b"\xff"],
)
def test_unsigned_payloads(raw: bytes) -> None:
    refused(Reason.UNSIGNED, raw)


@pytest.mark.parametrize(
    "change",
    [
        {"sig": "abc"},
        {"sig": 5},
        {"sig": "g" * 64},
        {"seq": None},
        {"seq": -1},
        {"seq": 2**53},
        {"seq": 1.5},
        {"seq": True},
        {"seq": "17"},
        {"ts": None},
        {"ts": "now"},
        {"ts": 1764288000000},  # milliseconds
        {"ts": -1},
        {"nested": {"a": 1}},
        {"list": [1]},
        {"big": 2**60},
    ],
)
def test_malformed_signed_payloads(change: dict[str, Any]) -> None:
    body = {**FIELDS, "sig": VECTOR, **change}
    body = {k: v for k, v in body.items() if v is not None}
    refused(Reason.MALFORMED, json.dumps(body).encode())


def test_constants_lone_surrogates_and_oversized_payloads() -> None:
    refused(Reason.UNSIGNED, b'{"ts": NaN, "sig": "' + VECTOR.encode() + b'"}')
    surrogate = b'{"state": "\\ud800", "seq": 1, "ts": 1, "sig": "' + VECTOR.encode() + b'"}'
    refused(Reason.MALFORMED, surrogate)
    refused(Reason.MALFORMED, b" " * 5000)


def test_replays_are_refused_and_a_higher_seq_is_not() -> None:
    raw = payload(FIELDS)
    assert check(raw, last_seq=None).seq == 17
    assert check(raw, last_seq=16).seq == 17
    refused(Reason.REPLAYED, raw, last_seq=17)
    refused(Reason.REPLAYED, raw, last_seq=1000)


def test_the_time_window_both_ways() -> None:
    raw = payload({**FIELDS, "ts": NOW})
    assert check(raw, now=NOW + 30).seq == 17
    assert check(raw, now=NOW - 30).seq == 17
    refused(Reason.STALE, raw, now=NOW + 30.01)
    error = refused(Reason.STALE, raw, now=NOW - 31)
    assert "ts 31.0 s ahead of the clock" in str(error)
    assert "behind" in str(refused(Reason.STALE, raw, now=NOW + 31))
    assert check(raw, now=NOW + 100, window=100).seq == 17


def test_the_signature_is_checked_before_seq_and_time() -> None:
    forged = payload({**FIELDS, "ts": 0}, secret=b"guess")
    refused(Reason.BAD_SIGNATURE, forged, last_seq=10**9)


def test_no_refusal_shows_the_secret_the_signature_or_the_payload() -> None:
    cases: list[tuple[bytes, dict[str, Any]]] = [
        (payload(FIELDS, secret=b"guess"), {}),
        (payload(FIELDS), {"last_seq": 99}),
        (payload(FIELDS), {"now": 0.0}),
        (json.dumps({**FIELDS, "sig": VECTOR[:-1]}).encode(), {}),
        (b"OPEN", {}),
    ]
    for raw, kw in cases:
        with pytest.raises(SecurityRejected) as caught:
            check(raw, **kw)
        text = f"{caught.value} {caught.value.detail!r}"
        for secret in (SECRET.decode(), VECTOR, VECTOR[:16], "OPEN", "87"):
            assert secret not in text


def test_an_empty_secret_signs_nothing() -> None:
    with pytest.raises(ValueError, match="empty"):
        signature(b"", "front", FIELDS)
