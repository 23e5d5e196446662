"""The FastAPI application: JSON API routers, the web client's pages and static assets."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from openfyp import __version__
from openfyp.services import Services, build_services
from openfyp.settings import Settings, get_settings
from openfyp.web.errors import ERROR_RESPONSES, install_error_handlers
from openfyp.web.ratelimit import TokenBucketLimiter
from openfyp.web.routers import ROUTERS

STATIC_DIR = Path(__file__).parent / "static"


def create_app(services: Services | None = None, settings: Settings | None = None) -> FastAPI:
    owns_services = services is None
    if services is None:
        services = build_services(settings or get_settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        services.start()
        try:
            yield
        finally:
            if owns_services:
                services.close()
            else:
                services.stop()

    app = FastAPI(
        title="openfyp",
        version=__version__,
        summary="A self-hostable short-video platform with a sovereign, auditable For You engine.",
        docs_url="/docs",
        responses=ERROR_RESPONSES,
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.write_limiter = TokenBucketLimiter(services.settings.write_rate_per_minute)
    install_error_handlers(app)

    @app.middleware("http")
    async def security_headers(request, call_next):
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
