"""A local stand-in for QuickBooks Online (Accounting API v3 + OAuth 2.0).

It shares no code with rentsync: it stands for a system we do not own.
"""

from __future__ import annotations

__version__ = "0.1.0"
