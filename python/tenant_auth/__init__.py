"""Verify the backend JWTs that the ``exchange-token`` Supabase Edge Function issues.

``decode_backend_token(token, settings)`` returns the caller (``user_id``, ``tenant_id``, ``role``,
``email``) or raises ``InvalidBackendToken``; ``BackendAuth(settings)`` is the same as a FastAPI
dependency that answers 401 with ``WWW-Authenticate`` itself. Built on PyJWT alone (2.6 and later).

Example::

    from fastapi import Depends, FastAPI
    from tenant_auth import BackendAuth, Caller, Settings

    auth = BackendAuth(Settings.from_env())  # JWT_SECRET, or JWT_JWKS_URL for ES256/EdDSA tokens
    app = FastAPI()

    @app.get("/me")
    def me(caller: Caller = Depends(auth)):
        return {"user_id": caller.user_id, "tenant_id": caller.tenant_id}
"""

from .errors import BackendTokenError, InvalidBackendToken, KeySetUnavailable
from .settings import Settings
from .tokens import BackendTokenVerifier, Caller, decode_backend_token

__all__ = [
    "BackendAuth",
    "BackendTokenError",
    "BackendTokenVerifier",
    "Caller",
    "InvalidBackendToken",
    "KeySetUnavailable",
    "Settings",
    "decode_backend_token",
]


def __getattr__(name):
    # The FastAPI dependency is imported on first use, so decoding works without FastAPI installed.
    if name == "BackendAuth":
        from .dependency import BackendAuth

        return BackendAuth
    raise AttributeError(f"module 'tenant_auth' has no attribute {name!r}")
