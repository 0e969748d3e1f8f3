"""An example FastAPI backend that trusts the exchange-token function's backend tokens.

``GET /me`` answers the caller's claims; every request is logged in one JSON line (preflights included).
``deno task dev`` runs it on Debian's uvicorn; by hand (from the repository's root)::

    PYTHONPATH=python JWT_SECRET="$BACKEND_JWT_SECRET" ALLOWED_ORIGINS=http://127.0.0.1:5173 \\
      /usr/bin/python3 -m uvicorn main:app --app-dir examples/fastapi_backend --port 8000 --no-access-log

Settings: those of ``tenant_auth.Settings.from_env`` (``JWT_SECRET``, ``JWT_SECRETS``, ``JWT_JWKS_URL``,
``JWT_ALGORITHMS``, ...), and ``ALLOWED_ORIGINS``, the comma-separated origins a browser may call from.
"""

import json
import logging
import os
import sys
import time

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware

from tenant_auth import BackendAuth, Caller, Settings

log = logging.getLogger("example_backend")
if not log.handlers:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def create_app(settings: Settings, allowed_origins) -> FastAPI:
    """The app: ``GET /me`` behind the backend token, CORS for ``allowed_origins``, one log line per request.

    :param settings: How backend tokens are verified.
    :param allowed_origins: Origins a browser may call from.
    :returns: The app.
    """
    auth = BackendAuth(settings)
    app = FastAPI(title="exchange-token example backend")
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(allowed_origins),
        allow_methods=["GET"],
        allow_headers=["authorization"],
        expose_headers=["WWW-Authenticate", "Retry-After"],
    )

    # Added last, so it wraps CORS too: preflights get their line.
    @app.middleware("http")
    async def log_request(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        caller = getattr(request.state, "caller", None)
        log.info(json.dumps({
            "msg": "request",
            "method": request.method,
            "path": request.url.path,
            "status": response.status_code,
            "user_id": caller.user_id if caller else None,
            "tenant_id": caller.tenant_id if caller else None,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        }))
        return response

    @app.get("/me")
    def me(caller: Caller = Depends(auth)):
        return {
            "user_id": caller.user_id,
            "tenant_id": caller.tenant_id,
            "role": caller.role,
            "email": caller.email,
            "exp": caller.claims["exp"],
        }

    return app


def _origins(value: str):
    return [origin.strip() for origin in value.split(",") if origin.strip()]


app = create_app(Settings.from_env(), _origins(os.environ.get("ALLOWED_ORIGINS", "")))
