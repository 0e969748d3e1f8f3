"""The package's errors: a token that is refused (401) and a key set that cannot be had (503)."""

import jwt


class BackendTokenError(Exception):
    """Base class of the package's errors."""


class InvalidBackendToken(BackendTokenError, jwt.InvalidTokenError):
    """The token is refused: malformed, wrong signature or key, expired, wrong ``aud``/``iss``, an
    algorithm that is not accepted, or claims that are not the contract's. Answer 401.

    ``reason`` is a short, stable phrase for logs and the ``error_description`` (never the token).
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class KeySetUnavailable(BackendTokenError):
    """The JWKS could not be fetched (in time) or holds no usable key, and no earlier copy is at hand.
    Not the caller's fault: answer 503."""
