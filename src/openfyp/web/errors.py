"""Every error leaves the API as ``{"error": {"code", "message", "field"}}``, never a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from openfyp.platform.errors import DomainError, RateLimited

log = logging.getLogger("openfyp.web")


class FieldProblem(BaseModel):
    field: str | None
    message: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    field: str | None
    details: list[FieldProblem] | None = None  # every invalid field, on request validation errors


class ErrorOut(BaseModel):
    error: ErrorInfo


# Declared on every operation, so the OpenAPI document shows clients the one error shape they will get.
ERROR_RESPONSES: dict[int | str, dict] = {
    "4XX": {"model": ErrorOut, "description": "Bad input, not signed in, not allowed, not found, or rate limited"},
}


def error_body(code: str, message: str, field: str | None = None) -> dict:
    return {"error": {"code": code, "message": message, "field": field}}


class ApiError(DomainError):
    """A web-layer error with an explicit status (domain errors carry theirs already)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(code, message, field)
        self.status = status


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"Retry-After": str(max(1, int(exc.retry_after)))} if isinstance(exc, RateLimited) else None
        return JSONResponse(error_body(exc.code, exc.message, exc.field), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        location = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header", "form")]
        field = ".".join(location) or None
        if first.get("type") == "json_invalid":
            return JSONResponse(error_body("malformed_json", "the request body is not valid JSON"), 400)
        message = first.get("msg", "invalid input")
        if field:
            message = f"{field}: {message}"
        details = [{"field": ".".join(str(p) for p in e.get("loc", ())[1:]) or None, "message": e.get("msg")}
                   for e in exc.errors()[:20]]
        body = error_body("invalid_input", message, field)
        body["error"]["details"] = details
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated", 403: "forbidden",
                 413: "too_large", 415: "unsupported_media_type"}
        code = codes.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return JSONResponse(error_body(code, message), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal_error", "something went wrong on our side"), status_code=500)
