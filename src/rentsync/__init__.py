"""rentsync: keeps QuickBooks Online in step with a rental system, one way, within seconds.

Importing this package does no I/O; `rentsync.bootstrap` wires everything at start-up.
"""

from __future__ import annotations

__version__ = "0.1.0"
