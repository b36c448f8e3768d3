"""PostgreSQL: where the database comes from, the schema and its migrations, repositories."""

from __future__ import annotations
