"""Signed sensor messages: HMAC-SHA256 over a canonical form, with replay protection.

The wire format (docs/security.md, "Signed and encrypted messages") is the native JSON
sensor payload with one more key, ``sig``::

    {"state": "OPEN", "seq": 17, "ts": 1764288000.1, "battery": 87, "sig": "<64 hex>"}

    sig = lower-case hex of HMAC-SHA256(key, "homeguard-sig-v1\\n" + device_id + "\\n"
                                             + JCS(the object without "sig"))

``key`` is the UTF-8 bytes of the device's secret exactly as provisioned; JCS is the
JSON Canonicalization Scheme (RFC 8785): keys sorted by UTF-16 code units, no
whitespace, numbers as ECMAScript writes them (``1764288000`` not ``1764288000.0``),
strings with JSON's minimal escapes. Key order and spacing on the wire are therefore
free. A signed object is flat (values are strings, numbers, booleans or null), carries
an integer ``seq`` in [0, 2**53) and a number ``ts`` (epoch seconds).

A message is accepted when its signature is right, its ``seq`` is greater than the last
one accepted from that device, and ``ts`` is within ``window`` seconds of ``now``.
Everything here is a pure function: the secret, the last sequence number and the time
are arguments. Rejections raise :class:`~homeguard.errors.SecurityRejected` whose detail
never holds the secret, the signature or the payload.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from homeguard.errors import SecurityRejected

__all__ = [
    "DOMAIN",
    "MAX_SEQ",
    "SIG_KEY",
    "Reason",
    "Verified",
    "canonical",
    "check_fresh",
    "sign",
    "signature",
    "signed_bytes",
    "verify",
]

SIG_KEY = "sig"
DOMAIN = b"homeguard-sig-v1"
MAX_SEQ = 2**53  # exact in every JSON implementation (IEEE double)
MAX_PAYLOAD = 4096  # bytes, as for every other payload
_HEX = frozenset("0123456789abcdef")


class Reason(StrEnum):
    """The ``reason`` tags of :class:`SecurityRejected` raised here."""

    UNSIGNED = "unsigned"  # no signature where one is required
    MALFORMED = "malformed_signed"  # not a flat JSON object with seq and ts
    BAD_SIGNATURE = "bad_signature"
    REPLAYED = "replayed"  # seq not above the last accepted one
    STALE = "stale"  # ts outside the window around now


@dataclass(frozen=True, slots=True)
class Verified:
    """A message whose signature, sequence number and time were accepted."""

    fields: Mapping[str, Any]  # the object without ``sig``
    seq: int
    ts: float

    @property
    def body(self) -> bytes:
        """The fields as canonical JSON, for the ordinary payload decoder."""
        return canonical(self.fields)


# ------------------------------------------------------------------ canonical form


def canonical(fields: Mapping[str, Any]) -> bytes:
    """RFC 8785 (JCS) bytes of a flat object: sorted keys, no spaces, ES numbers."""
    items = sorted(fields.items(), key=lambda item: item[0].encode("utf-16-be"))
    body = ",".join(f"{_string(key)}:{_value(value)}" for key, value in items)
    return ("{" + body + "}").encode("utf-8")


def _string(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise SecurityRejected(Reason.MALFORMED, "a lone surrogate in a string") from None
    # json.dumps without ensure_ascii escapes exactly what JCS escapes, in lower-case hex.
    return json.dumps(text, ensure_ascii=False)


def _value(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, int):
        if not -MAX_SEQ < value < MAX_SEQ:
            raise SecurityRejected(Reason.MALFORMED, "an integer beyond 2**53")
        return str(value)
    if isinstance(value, float):
        return _es_number(value)
    raise SecurityRejected(Reason.MALFORMED, "a signed object holds only flat values")


def _es_number(number: float) -> str:
    """A double as ECMAScript's Number::toString writes it (shortest round trip)."""
    if not math.isfinite(number):
        raise SecurityRejected(Reason.MALFORMED, "a number must be finite")
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(number))).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    k = len(digits)
    n = exponent + k  # value = 0.digits x 10**n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = f"{digits[:n]}.{digits[n:]}"
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        mantissa = digits[0] + (f".{digits[1:]}" if k > 1 else "")
        text = f"{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return sign + text


# ---------------------------------------------------------------------- signing


def signed_bytes(device_id: str, fields: Mapping[str, Any]) -> bytes:
    """What the HMAC covers: domain, device id and the canonical fields."""
    return DOMAIN + b"\n" + device_id.encode("utf-8") + b"\n" + canonical(fields)


def signature(secret: bytes, device_id: str, fields: Mapping[str, Any]) -> str:
    """The lower-case hex HMAC-SHA256 of :func:`signed_bytes`."""
    if not secret:
        raise ValueError("a signing secret must not be empty")
    return hmac.new(secret, signed_bytes(device_id, fields), hashlib.sha256).hexdigest()


def sign(secret: bytes, device_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` with its ``sig``, ready for ``json.dumps`` in any key order."""
    unsigned = {k: v for k, v in fields.items() if k != SIG_KEY}
    return {**unsigned, SIG_KEY: signature(secret, device_id, unsigned)}


# --------------------------------------------------------------------- checking


def verify(
    payload: bytes,
    *,
    device_id: str,
    secret: bytes,
    last_seq: int | None,
    now: float,
    window: float,
) -> Verified:
    """Accept a signed payload or raise SecurityRejected with the reason.

    Checked in this order: the form, the signature (constant-time), then the sequence
    number against ``last_seq`` (None: nothing accepted yet) and ``ts`` against ``now``.
    """
    fields, sig = _parse(payload)
    expected = signature(secret, device_id, fields)
    if not hmac.compare_digest(expected, sig):
        raise SecurityRejected(Reason.BAD_SIGNATURE, "the signature does not match")
    seq, ts = fields["seq"], float(fields["ts"])
    if last_seq is not None and seq <= last_seq:
        raise SecurityRejected(Reason.REPLAYED, f"seq {seq} is not above {last_seq}")
    check_fresh(ts, now, window)
    return Verified(fields, seq, ts)


def check_fresh(ts: float, now: float, window: float) -> None:
    """Raise unless ``ts`` is within ``window`` seconds of ``now``, either way."""
    if not abs(now - ts) <= window:
        ahead = ts - now
        where = "ahead of" if ahead > 0 else "behind"
        raise SecurityRejected(
            Reason.STALE, f"ts {abs(ahead):.1f} s {where} the clock (window {window:g} s)"
        )


def _parse(payload: bytes) -> tuple[dict[str, Any], str]:
    if len(payload) > MAX_PAYLOAD:
        raise SecurityRejected(Reason.MALFORMED, f"{len(payload)} bytes, limit {MAX_PAYLOAD}")
    try:
        doc = json.loads(payload.decode("utf-8-sig"), parse_constant=_no_constant)
    except (ValueError, RecursionError):
        doc = None
    if not isinstance(doc, dict):
        raise SecurityRejected(Reason.UNSIGNED, "not a signed JSON object")
    sig = doc.pop(SIG_KEY, None)
    if sig is None:
        raise SecurityRejected(Reason.UNSIGNED, "no sig")
    if not isinstance(sig, str) or len(sig) != 64 or not set(sig.lower()) <= _HEX:
        raise SecurityRejected(Reason.MALFORMED, "sig must be 64 hex digits")
    for value in doc.values():
        _value(value)  # flat and representable, else MALFORMED
    seq, ts = doc.get("seq"), doc.get("ts")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < MAX_SEQ:
        raise SecurityRejected(Reason.MALFORMED, "seq must be an integer in [0, 2**53)")
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not 0 <= ts < 1e11:
        raise SecurityRejected(Reason.MALFORMED, "ts must be epoch seconds")
    return doc, sig.lower()


def _no_constant(text: str) -> float:
    raise ValueError("NaN and Infinity are not JSON")
