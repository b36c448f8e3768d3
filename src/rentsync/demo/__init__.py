"""`rentsync demo`: a party-rental business's week, synced to a local QuickBooks emulator.

`seed` is the week as data, `emulator` runs `qbo-emulator` as a separate process and talks to
its admin API over HTTP, `runner` orchestrates (service, OAuth connect, seeding, waiting) and
`report` prints the outcome. Nothing here runs at import time.
"""

from __future__ import annotations
