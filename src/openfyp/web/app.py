"""The FastAPI application: JSON API routers, the web client's pages and static assets."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openfyp import __version__
from openfyp.services import Services, build_services
from openfyp.settings import Settings, get_settings
from openfyp.web.errors import ERROR_RESPONSES, install_error_handlers
from openfyp.web.ratelimit import write_limiter_for
from openfyp.web.routers import ROUTERS

STATIC_DIR = Path(__file__).parent / "static"


# Connections the deployment's own threads take from the pool beside requests: the feed log's writer and the
# online learner (plus one per background job worker, and on PostgreSQL the one holding the leader lock, added
# below).
RESERVED_CONNECTIONS = 2
MIN_REQUEST_THREADS = 4
MAX_REQUEST_THREADS = 40  # AnyIO's default


def request_threads(services: Services) -> int:
    """How many requests may run handlers at once: what the database pool can serve without waiting."""
    pool = services.engine.pool
    size = getattr(pool, "size", None)
    if not callable(size):  # a pool without a fixed size (NullPool, StaticPool): keep AnyIO's default
        return MAX_REQUEST_THREADS
    capacity = size() + max(getattr(pool, "_max_overflow", 0), 0)
    leader_lock = 1 if services.engine.dialect.name == "postgresql" else 0
    spare = capacity - RESERVED_CONNECTIONS - leader_lock - max(services.settings.job_workers, 0)
    return max(MIN_REQUEST_THREADS, min(MAX_REQUEST_THREADS, spare))


SECURITY_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"))


class SecurityHeaders:
    """Adds the security headers a response does not set itself. Plain ASGI: Starlette's ``BaseHTTPMiddleware``
    (``@app.middleware``) runs every response through an extra task and stream, a measurable share of a feed
    request's CPU."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(services: Services | None = None, settings: Settings | None = None) -> FastAPI:
    owns_services = services is None
    if services is None:
        services = build_services(settings or get_settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        # Sync handlers run on AnyIO's worker threads; more of them than the database pool has connections
        # only makes the extra ones wait for a connection and fail after the pool timeout (500s under load)
        # instead of queueing for a thread. Excess requests wait here, cheaply, for their turn.
        anyio.to_thread.current_default_thread_limiter().total_tokens = request_threads(services)
        services.start()
        try:
            yield
        finally:
            if owns_services:
                services.close()  # commits the queued feed pages and events before the database goes away
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
    app.state.write_limiter = write_limiter_for(services.settings)
    install_error_handlers(app)

    app.add_middleware(SecurityHeaders)

    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
