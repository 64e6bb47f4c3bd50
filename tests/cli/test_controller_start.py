"""``homeguard controller`` builds its site with the garbage collector off (see
homeguard.cli.services.controller): it must be on again whatever happens."""

from __future__ import annotations

import gc
from pathlib import Path

from homeguard.cli import main


def test_the_collector_is_on_again_after_a_start_that_fails(tmp_path: Path) -> None:
    config = tmp_path / "homeguard.yaml"
    config.write_text("sensors:\n  - {id: front, type: door, colour: red}\n")
    assert gc.isenabled()
    try:
        assert main(["controller", "--config", str(config), "--data-dir", str(tmp_path)]) == 1
        assert gc.isenabled()
    finally:
        gc.enable()
