"""The FastAPI dependency: the caller of a request, or a 401 with ``WWW-Authenticate`` (RFC 6750).

It reads the ``Authorization`` header itself: FastAPI's ``HTTPBearer`` answers a missing header with 403
and no ``WWW-Authenticate`` (FastAPI 0.92, Debian 12's), which is not what a bearer-token API should say.
"""

from typing import Dict

from fastapi import HTTPException, Request

from .errors import InvalidBackendToken, KeySetUnavailable
from .settings import Settings
from .tokens import BackendTokenVerifier, Caller

RETRY_AFTER_SECONDS = 5
"""``Retry-After`` of the 503 answered while the JWKS cannot be fetched."""


class BackendAuth:
    """A FastAPI dependency that returns the :class:`Caller` of a request.

    - no ``Authorization`` header: 401, ``WWW-Authenticate: Bearer realm="api"`` (no error code, as
      RFC 6750 §3.1 asks of a request without credentials);
    - a header that is not ``Bearer <token>``, or a refused token: 401 with ``error="invalid_token"``
      and a short ``error_description``;
    - the JWKS cannot be fetched: 503 with ``Retry-After``.

    The caller is also left in ``request.state.caller`` (for a log line, say).

    Example::

        auth = BackendAuth(Settings.from_env())

        @app.get("/me")
        def me(caller: Caller = Depends(auth)):
            return {"user_id": caller.user_id, "tenant_id": caller.tenant_id}
    """

    def __init__(self, settings: Settings, realm: str = "api"):
        self.verifier = BackendTokenVerifier(settings)
        self.realm = realm.replace('"', "")

    def __call__(self, request: Request) -> Caller:
        # A sync dependency: FastAPI runs it on its thread pool, where a JWKS fetch may block.
        authorization = request.headers.get("authorization")
        if authorization is None:
            raise self._unauthorized("A backend token is required (Authorization: Bearer <token>)", None)
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise self._unauthorized("The Authorization header is not a bearer token", "not a bearer token")
        try:
            caller = self.verifier.decode(token.strip())
        except InvalidBackendToken as error:
            raise self._unauthorized("The backend token is not valid", error.reason) from error
        except KeySetUnavailable as error:
            raise HTTPException(
                status_code=503,
                detail="The keys to verify the token cannot be fetched; try again shortly",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            ) from error
        request.state.caller = caller
        return caller

    def _unauthorized(self, detail: str, reason) -> HTTPException:
        challenge = f'Bearer realm="{self.realm}"'
        if reason is not None:
            challenge += f', error="invalid_token", error_description="{reason}"'
        headers: Dict[str, str] = {"WWW-Authenticate": challenge}
        return HTTPException(status_code=401, detail=detail, headers=headers)
