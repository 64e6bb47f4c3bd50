"""Where ``homeguard arm|disarm`` take a code from, never requiring the command line,
which every user of the machine can read (``ps``, ``/proc/<pid>/cmdline``):

1. ``--code -``: the first line of standard input (``pass show alarm | homeguard disarm
   --code -``);
2. ``$HOMEGUARD_CODE`` (the environment of a process is readable by its owner only);
3. a prompt that does not echo, when standard input is a terminal and a code is asked;
4. ``--code CODE`` still works, for old scripts, with a warning: it is visible in ``ps``.

Nothing here prints, logs or stores the code.
"""

from __future__ import annotations

import getpass
import os
import sys

from homeguard.errors import HomeguardError

__all__ = ["CODE_VARIABLE", "STDIN", "read_code"]

CODE_VARIABLE = "HOMEGUARD_CODE"
STDIN = "-"  # --code - reads the code from standard input
UNSAFE = (
    "homeguard: warning: a code given with --code is visible to every user of this "
    f"machine (ps); use the prompt, ${CODE_VARIABLE} or --code - (standard input)"
)


def read_code(given: str | None, *, ask: bool) -> str | None:
    """The code to send, or None for none. ``given`` is ``--code``'s value; ``ask``:
    prompt for one when standard input is a terminal and no other source has one."""
    if given == STDIN:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise HomeguardError("--code -: no code on standard input")
        return line
    if given is not None:
        print(UNSAFE, file=sys.stderr)
        return given
    if os.environ.get(CODE_VARIABLE):
        return os.environ[CODE_VARIABLE]
    if ask and sys.stdin.isatty():
        try:
            typed = getpass.getpass("Code (Enter for none): ")
        except EOFError:
            return None
        return typed or None
    return None
