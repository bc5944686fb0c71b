"""``python -m helpers``: the same program as the ``ttl-archive`` console script (see :mod:`helpers.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
