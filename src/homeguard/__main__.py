"""``python -m homeguard``."""

import sys

from homeguard.cli import main

sys.exit(main())
