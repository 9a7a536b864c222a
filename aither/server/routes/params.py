"""Query parameters that several read routes take, declared once."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Query
from pydantic import BeforeValidator

from . import schemas as s

IsoTime = Annotated[dt.datetime | None, BeforeValidator(s.iso_time_only)]
"""An optional ISO 8601 time (a bare number, which pydantic would read as epoch seconds, is
refused); routes add the ``Query`` that describes what it bounds."""
Limit = Annotated[int, Query(ge=1, le=1000)]
Cursor = Annotated[str | None, Query(min_length=1, description="next_cursor of the previous page")]
