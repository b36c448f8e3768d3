"""The sync engine: make QuickBooks match the newest snapshot of a document, and record how."""

from __future__ import annotations
