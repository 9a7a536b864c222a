"""The dashboard: a browser UI served by ``aither server`` at ``/``, on the same port.

``static/`` holds plain HTML, CSS and ES modules (no build step, no CDN: it works offline and
ships inside the wheel); this package serves them and the sign-in routes of ``/api/v1/session``
(see ``docs/dashboard.md``).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from .routes import STATIC, router

__all__ = ["install"]


def install(app: FastAPI) -> None:
    """Serve the dashboard at ``/`` and its assets at ``/static``, and add the session routes."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="dashboard-static")
