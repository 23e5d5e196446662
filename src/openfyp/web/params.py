"""Path parameter types shared by the routers, so every route refuses the same hostile values with a 422.

Ids are 32-bit integers in every supported database: a larger one cannot name a row, and SQLite cannot even
bind an integer past 64 bits. Opaque keys (request ids, export tokens) are ASCII by construction, so anything
else (a NUL byte, which PostgreSQL refuses in text, or other control characters) is refused before a query.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

MAX_ID = 2**31 - 1

RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="A row id (1 … 2³¹−1).")]
OpaqueKey = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$",
                                description="A request id or token: letters, digits, '-' and '_'.")]
