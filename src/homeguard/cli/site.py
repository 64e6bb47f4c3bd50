"""Which site a command is about: its config file, data directory and broker."""

from __future__ import annotations

import argparse
from pathlib import Path

from homeguard.config import bundled_example, default_config_path, load_config
from homeguard.errors import HomeguardError
from homeguard.site import Site, default_data_dir


def _config_path(args: argparse.Namespace) -> Path:
    path: Path = args.config or default_config_path()
    return path


def is_demo(args: argparse.Namespace) -> bool:
    """True when the config is the bundled example, whose codes are published."""
    return _config_path(args).resolve() == bundled_example().resolve()


def load_site(args: argparse.Namespace, *, codes: bool = True) -> Site:
    """``codes`` False: for a command that checks no code (load_config's hash_codes)."""
    config = load_config(_config_path(args), hash_codes=codes)
    override = None
    if args.broker:
        host, _, port = args.broker.rpartition(":")
        if not host or not port.isdigit():
            raise HomeguardError(f"--broker wants HOST:PORT, not {args.broker!r}")
        override = (host, int(port))
    return Site(config, args.data_dir or default_data_dir(), override)
