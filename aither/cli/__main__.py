"""``python -m aither.cli``: the same as the ``aither`` command."""

from __future__ import annotations

import sys

from . import main

sys.exit(main())
