"""Pure translations of rental documents into QuickBooks Online payloads, one module per entity.

Payloads are `dict[str, Any]` in QBO's field names: money and quantities as `Decimal`, Ids as
`str`, dates as ISO strings. Nothing here does I/O; a document that cannot be mapped raises
`errors.MappingError` before anything is written.
"""

from __future__ import annotations
