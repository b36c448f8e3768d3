"""The one door between rentsync and QuickBooks Online: OAuth, the API client, limits, errors.

Nothing here imports `rentsync.store`; persistence comes in through the Protocols in `ports`.
"""

from __future__ import annotations
