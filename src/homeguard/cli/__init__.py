"""The ``homeguard`` command: :func:`main` parses the command line (:mod:`.parser`) and
runs the command's function, imported from the module of its group only then:

- :mod:`.services`: ``up``, ``controller``, ``simulate``, ``actuators``
- :mod:`.household`: ``evaluate``
- :mod:`.panel`: ``sensor``, ``arm``, ``disarm`` (:mod:`.codes` for where a code comes from)
- :mod:`.status`: ``status``
- :mod:`.api`: ``arm``, ``disarm`` and ``status`` with ``--api``
- :mod:`.events`: ``events``
- :mod:`.notify`: ``notify-test``
- :mod:`.setup`: ``check-config``, ``broker-config``, ``doctor``, ``provision``, ``revoke``
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from homeguard import logs
from homeguard.cli.parser import SERVICES, build_parser, command_function
from homeguard.errors import HomeguardError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for name in ("config", "data_dir", "broker"):
        setattr(args, name, getattr(args, name, None))
    level = logging.INFO if args.command in SERVICES else logging.WARNING
    logs.configure(logging.DEBUG if getattr(args, "verbose", False) else level)
    try:
        result = command_function(args)(args)
        sys.stdout.flush()  # here, not at exit: a closed reader is met below
    except HomeguardError as exc:
        print(f"homeguard: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Whoever read the output has gone (``homeguard events | head``): no traceback,
        # and nothing more written to the closed pipe when Python flushes at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return result
