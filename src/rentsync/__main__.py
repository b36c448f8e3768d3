"""`python -m rentsync`: the command line (how a worker starts its bulk lane's process)."""

from __future__ import annotations

from rentsync.cli import main

if __name__ == "__main__":
    main()
