"""``homeguard check-config|broker-config|doctor|provision|revoke``: set a site up."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from homeguard.adapters.broker import mosquitto_config, reload_local_broker
from homeguard.app import default_data_dir
from homeguard.cli import notify
from homeguard.cli.site import load_site
from homeguard.core.rule_text import rule_lines
from homeguard.services.accounts import CONTROLLER
from homeguard.services.broker_check import diagnose
from homeguard.services.home_assistant import discovery
from homeguard.services.provisioning import SecurityFiles, provision, revoke, security_folder


def check_config(args: argparse.Namespace) -> int:
    site = load_site(args, codes=False)
    config = site.config
    site.topic_map  # noqa: B018 - building it checks the topics
    discovery(config)  # and the Home Assistant entities
    print(
        f"config OK: {len(config.sensors)} sensors, {len(config.actuators)} actuators, "
        f"{len(config.users)} users, base topic {config.mqtt.base_topic!r}"
    )
    for sensor in config.sensors:
        print(
            f"  {sensor.id:<12} {sensor.type.value:<7} zone {sensor.zone_kind.value:<9} "
            f"family {sensor.family}"
        )
    for line in rule_lines(config.rules.book()):
        print(line)
    lines, targets_ok = notify.check_targets(site)
    for line in lines:
        print(line)
    return 0 if targets_ok else 1


def _security_folder(args: argparse.Namespace) -> Path:
    if args.out is not None:
        return Path(args.out)
    site = load_site(args)
    site.private_data_dir()
    return security_folder(site.config, site.data_dir)


def provision_security(args: argparse.Namespace) -> int:
    report = provision(load_site(args).config, _security_folder(args), time.time())
    print("\n".join(report.lines()))
    return 0


def revoke_device(args: argparse.Namespace) -> int:
    folder = _security_folder(args)
    revoke(args.device, folder, time.time())
    data_dir = args.data_dir or default_data_dir()
    pid = reload_local_broker(data_dir / "broker", SecurityFiles(folder).password_file)
    if pid is not None:
        print(
            f"revoked {args.device}: the broker homeguard started (pid {pid}) reloaded "
            "its logins, ACL and CRL: the device is out"
        )
        return 0
    print(
        f"revoked {args.device} in {folder}. No broker started by homeguard uses it: "
        "copy passwd, acl and crl.pem to your broker if it runs elsewhere, then reload it "
        "(Mosquitto: systemctl reload mosquitto, or kill -HUP its pid); until then the "
        "device can still log in"
    )
    return 0


def broker_config(args: argparse.Namespace) -> int:
    site = load_site(args)
    text = mosquitto_config(
        port=args.port,
        bind=args.bind,
        data_dir=site.data_dir / "broker",
        store_bytes=site.broker_store_bytes,
    )
    if args.out:
        args.out.write_text(text)
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0


def doctor(args: argparse.Namespace) -> int:
    site = load_site(args)
    address = site.broker_address(CONTROLLER)
    print(f"checking the MQTT broker at {address} as the controller would use it")
    findings = diagnose(address, f"{site.config.mqtt.client_id}-probe")
    for finding in findings:
        print(f"{'ok ' if finding.ok else 'FIX'} {finding.check}: {finding.text}")
    return 0 if all(f.ok for f in findings) else 1
