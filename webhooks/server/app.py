"""The FastAPI app: the admission endpoints around pure handlers, plus health and metrics.

Bodies are read and checked by hand rather than through FastAPI's model binding, so every bad
input gets a status code and a message that say what is wrong (never FastAPI's 422).
"""

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pydantic
import pydantic_core
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from webhooks.admission import jsontext
from webhooks.admission.review import (
    AdmissionHandler,
    AdmissionResponse,
    AdmissionReview,
    answer,
)
from webhooks.server import metrics

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024
# pydantic-core's JSON parser (jiter) refuses deeper documents; it is also faster than `json`
# and keeps integers of any size exact.
MAX_JSON_DEPTH = 200


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _parse_json(body: bytes) -> Any:
    try:
        return pydantic_core.from_json(body)
    except ValueError as error:
        if "recursion limit exceeded" in str(error):
            raise BadRequest(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
        raise BadRequest(400, f"request body is not valid JSON: {error}") from None


def _parse_review(document: Any) -> AdmissionReview:
    if not isinstance(document, dict):
        raise BadRequest(400, "request body must be a JSON object (an AdmissionReview)")
    if not isinstance(document.get("request"), dict):
        raise BadRequest(400, "AdmissionReview has no request")
    if not document["request"].get("uid"):
        raise BadRequest(400, "AdmissionReview request has no uid")
    try:
        return AdmissionReview.model_validate(document)
    except pydantic.ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'body'}: {issue['msg']}"
            for issue in error.errors(include_url=False)[:5]
        )
        raise BadRequest(400, f"invalid AdmissionReview: {problems}") from None


async def _read_body(request: Request, max_bytes: int) -> bytes:
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise BadRequest(415, f"Content-Type must be application/json, got {content_type!r}")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BadRequest(413, f"request body is larger than {max_bytes} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise BadRequest(413, f"request body is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _decision(response: AdmissionResponse) -> str:
    if not response.allowed:
        return "deny"
    return "patch" if response.patch is not None else "allow"


def _log_admission(
    path: str, review: AdmissionReview, result: AdmissionReview, start: float
) -> None:
    if not logger.isEnabledFor(logging.INFO):  # the fields are built only for a line written
        return
    request, response = review.request, result.response
    assert request is not None
    assert response is not None
    fields = {
        "path": path,
        "uid": request.uid,
        "kind": request.kind.kind,
        "object": f"{request.namespace}/{request.object_name}",
        "operation": request.operation,
        "decision": _decision(response),
        "reason": response.status.message if response.status else "",
        "duration_ms": round((time.perf_counter() - start) * 1000, 3),
    }
    if response.audit_annotations:
        fields["audit"] = response.audit_annotations
    logger.info("admission", extra=fields)


ErrorHook = Callable[[int], None]
"""Called with the HTTP status whenever a path answers something other than 200."""


def _admission_endpoint(
    path: str, handler: AdmissionHandler, max_body_bytes: int, on_error: ErrorHook | None
) -> Callable[[Request], Awaitable[Response]]:
    # Bound once per path: resolving label values on every request is work the answer never needs.
    answered, latency = metrics.REQUESTS.labels(path, "200"), metrics.LATENCY.labels(path)

    async def endpoint(request: Request) -> Response:
        start = time.perf_counter()
        review: AdmissionReview | None = None
        response: Response
        try:
            review = _parse_review(_parse_json(await _read_body(request, max_body_bytes)))
            assert review.request is not None
            result = answer(review.api_version, handler(review.request))
            body = jsontext.dump_bytes(result.to_json_dict())
            _log_admission(path, review, result, start)
        except BadRequest as bad:
            status, response = bad.status, _error(bad.status, bad.message)
            logger.warning("bad admission request", extra={"path": path, "error": bad.message})
        except Exception:
            uid = review.request.uid if review and review.request else ""
            logger.exception("admission handler failed", extra={"path": path, "uid": uid})
            status = 500
            response = _error(500, f"internal error while handling admission request {uid}")
        else:
            status, response = 200, Response(body, media_type="application/json")
        if status == 200:
            answered.inc()
        else:
            if on_error is not None:
                on_error(status)
            metrics.REQUESTS.labels(path, str(status)).inc()
        latency.observe(time.perf_counter() - start)
        return response

    return endpoint


def create_app(
    handlers: Mapping[str, AdmissionHandler],
    is_ready: Callable[[], bool],
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    error_hooks: Mapping[str, ErrorHook] | None = None,
) -> FastAPI:
    """`handlers` maps a path (e.g. "/inject") to the pure function that answers it;
    `error_hooks` lets a component count its own HTTP errors under its own metric names."""
    hooks = error_hooks or {}
    app = FastAPI(title="mesh-webhooks", docs_url=None, redoc_url=None, openapi_url=None)
    for path, handler in handlers.items():
        # A plain Starlette route: the endpoint reads its own body, so FastAPI's per-request
        # dependency solving (~35 us of CPU a request here) would buy nothing.
        app.add_route(
            path,
            _admission_endpoint(path, handler, max_body_bytes, hooks.get(path)),
            methods=["POST"],
        )

    @app.get("/healthz")
    def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.get("/readyz")
    def readyz() -> PlainTextResponse:
        if is_ready():
            return PlainTextResponse("ok")
        return PlainTextResponse("not ready", status_code=503)

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
