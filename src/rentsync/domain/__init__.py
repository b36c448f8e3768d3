"""Rental documents, companies and settings as plain values; no I/O."""

from __future__ import annotations
