"""Mosquitto's password and ACL files, and the site CA, without a broker."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from homeguard.adapters import pki
from homeguard.adapters.broker import mosquitto_config
from homeguard.adapters.broker_auth import (
    AclRule,
    ListenerTls,
    acl_file,
    hash_password,
    password_file,
    verify_password,
)

NOW = 1_764_288_000.0


def test_our_hash_is_the_line_mosquitto_passwd_writes(tmp_path: Path) -> None:
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        pytest.skip("mosquitto_passwd is not installed")
    path = tmp_path / "passwd"
    subprocess.run([tool, "-b", "-c", str(path), "front", "s3cret pass"], check=True)
    user, theirs = path.read_text().strip().split(":", 1)
    assert user == "front" and theirs.startswith("$7$101$")
    salt = base64.b64decode(theirs.split("$")[3])
    assert hash_password("s3cret pass", salt=salt) == theirs
    assert verify_password(theirs, "s3cret pass")
    assert not verify_password(theirs, "s3cret pasS")


def test_hashes_are_salted_and_other_schemes_never_verify() -> None:
    first, second = hash_password("pw"), hash_password("pw")
    assert first != second and verify_password(first, "pw") and verify_password(second, "pw")
    assert not verify_password("$6$abc$def", "pw")
    assert not verify_password("pw", "pw")


def test_files_render_sorted_and_refuse_names_that_would_break_them() -> None:
    text = password_file({"b": "$7$h2", "a": "$7$h1"})
    assert text == "a:$7$h1\nb:$7$h2\n"
    acl = acl_file(
        [AclRule("front", read=("home/devices/front/#",), write=("home/security/door/front",))],
        "header",
    )
    assert acl.splitlines() == [
        "# header",
        "",
        "user front",
        "topic read home/devices/front/#",
        "topic write home/security/door/front",
    ]
    for bad in ("a:b", "a b", "a\nuser root", ""):
        with pytest.raises(ValueError, match="user name"):
            password_file({bad: "$7$x"})
    with pytest.raises(ValueError, match="ACL topic"):
        acl_file([AclRule("x", write=("a\ntopic readwrite #",))])


def test_mosquitto_config_gains_a_tls_listener(tmp_path: Path) -> None:
    tls = ListenerTls(
        cafile=tmp_path / "ca.crt",
        certfile=tmp_path / "server.crt",
        keyfile=tmp_path / "server.key",
        require_certificate=True,
        crlfile=tmp_path / "crl.pem",
    )
    text = mosquitto_config(port=8883, data_dir=tmp_path, tls=tls)
    lines = text.splitlines()
    after = lines[lines.index("listener 8883 127.0.0.1") :]
    for line in (
        f"cafile {tmp_path / 'ca.crt'}",
        f"certfile {tmp_path / 'server.crt'}",
        f"keyfile {tmp_path / 'server.key'}",
        "require_certificate true",
        f"crlfile {tmp_path / 'crl.pem'}",
    ):
        assert line in after
    assert "cafile" not in mosquitto_config(port=1883, data_dir=tmp_path)


def test_server_certificate_names_its_hosts_and_the_crl_lists_serials() -> None:
    ca = pki.new_ca("test CA", NOW)
    server = pki.issue(ca, "broker", NOW, hosts=["localhost", "127.0.0.1", "alarm.lan"])
    assert pki.certificate_hosts(server.cert_pem) == {"localhost", "127.0.0.1", "alarm.lan"}
    client = pki.issue(ca, "front", NOW)
    assert pki.certificate_hosts(client.cert_pem) == set()
    assert pki.certificate_serial(client.cert_pem) == client.serial
    assert "BEGIN X509 CRL" in pki.crl(ca, [client.serial], NOW)
    with pytest.raises(pki.PkiError):
        pki.certificate_serial("not a certificate")
