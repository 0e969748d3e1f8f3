"""Decoding a backend token into the caller it speaks for.

With the default settings this is exactly the existing contract, ``jwt.decode(token, JWT_SECRET,
algorithms=["HS256"])``, plus what a server should check anyway: ``exp`` must be present, the claims must
be the contract's (``user_id``, ``tenant_id``, ``role``, ``email``), and the clock may be a little off.
"""

import functools
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import jwt

from .errors import InvalidBackendToken
from .jwks import BoundedJWKClient
from .settings import Settings

# PyJWT's exceptions as short reasons (for logs and error_description; never the token itself).
_REASONS = (
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
    (jwt.InvalidAudienceError, "the token's audience (aud) is not this service"),
    (jwt.InvalidIssuerError, "the token's issuer (iss) is not the expected one"),
    (jwt.MissingRequiredClaimError, "the token lacks a required claim"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidAlgorithmError, "the token's algorithm is not accepted"),
    (jwt.DecodeError, "the token is malformed"),
    (jwt.InvalidTokenError, "the token is invalid"),
)


@dataclass(frozen=True)
class Caller:
    """Who a valid backend token speaks for."""

    user_id: str
    """The Supabase user id."""
    tenant_id: str
    """The tenant id this service knows."""
    role: str
    """The caller's role in the tenant."""
    email: Optional[str]
    """The caller's confirmed email address, or None."""
    claims: Dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """Every claim of the token, for settings of your own (``aud``, ``iss``, ``exp``, ...)."""

    @classmethod
    def from_claims(cls, claims: Dict[str, Any]) -> "Caller":
        """The caller of a verified claim set.

        :param claims: The decoded claims.
        :returns: The caller.
        :raises InvalidBackendToken: The claims are not the contract's.
        """
        user_id, tenant_id = claims.get("user_id"), claims.get("tenant_id")
        role, email = claims.get("role"), claims.get("email")
        if not isinstance(user_id, str) or not user_id or not isinstance(tenant_id, str) or not tenant_id:
            raise InvalidBackendToken("the token lacks user_id or tenant_id")
        if not isinstance(role, str) or not (email is None or isinstance(email, str)):
            raise InvalidBackendToken("the token's role or email is malformed")
        return cls(user_id=user_id, tenant_id=tenant_id, role=role, email=email, claims=dict(claims))


class BackendTokenVerifier:
    """Verifies backend tokens for one ``Settings``; keeps the JWKS client (and its cache) between calls.

    Example::

        verifier = BackendTokenVerifier(Settings(secrets=(secret,)))
        caller = verifier.decode(token)
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.jwks: Optional[BoundedJWKClient] = None
        if settings.jwks_url:
            self.jwks = BoundedJWKClient(
                settings.jwks_url,
                timeout=settings.jwks_timeout_seconds,
                lifespan=settings.jwks_cache_seconds,
                refetch_interval=settings.jwks_refetch_seconds,
            )

    def decode(self, token: str) -> Caller:
        """Verifies a backend token.

        :param token: The bearer token.
        :returns: The caller.
        :raises InvalidBackendToken: The token is refused (answer 401).
        :raises KeySetUnavailable: The JWKS cannot be fetched (answer 503).
        """
        if not isinstance(token, str) or token == "":
            raise InvalidBackendToken("there is no token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as error:
            raise InvalidBackendToken("the token is malformed") from error
        algorithm = header.get("alg")
        settings = self.settings
        if settings.secrets and algorithm in settings.hmac_algorithms:
            claims = self._decode_with_secrets(token, algorithm)
        elif self.jwks is not None and algorithm in settings.jwks_algorithms:
            key = self.jwks.get_signing_key(header.get("kid"))
            if not _fits(key.key, algorithm):
                raise InvalidBackendToken("the token's key (kid) is not a key of its algorithm")
            claims = self._decode(token, key.key, algorithm)
        else:
            raise InvalidBackendToken("the token's algorithm is not accepted")
        return Caller.from_claims(claims)

    def _decode_with_secrets(self, token: str, algorithm: str) -> Dict[str, Any]:
        # Several secrets during a rotation: a signature that does not verify with one may with the next;
        # any other failure (expired, wrong aud) is the token's and ends the search.
        for secret in self.settings.secrets[:-1]:
            try:
                return self._decode(token, secret, algorithm)
            except InvalidBackendToken as error:
                if not isinstance(error.__cause__, jwt.InvalidSignatureError):
                    raise
        return self._decode(token, self.settings.secrets[-1], algorithm)

    def _decode(self, token: str, key: Any, algorithm: str) -> Dict[str, Any]:
        settings = self.settings
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=settings.leeway_seconds,
                options={"require": ["exp"]},
            )
        except jwt.InvalidTokenError as error:
            raise InvalidBackendToken(_reason(error)) from error


def decode_backend_token(token: str, settings: Settings) -> Caller:
    """Verifies a backend token with the given settings (one verifier, and one JWKS cache, per settings).

    :param token: The bearer token.
    :param settings: How to verify it.
    :returns: The caller.
    :raises InvalidBackendToken: The token is refused (answer 401).
    :raises KeySetUnavailable: The JWKS cannot be fetched (answer 503).

    Example::

        caller = decode_backend_token(token, Settings(secrets=(os.environ["JWT_SECRET"],)))
        print(caller.user_id, caller.tenant_id, caller.role, caller.email)
    """
    return _verifier(settings).decode(token)


@functools.lru_cache(maxsize=16)
def _verifier(settings: Settings) -> BackendTokenVerifier:
    return BackendTokenVerifier(settings)


def _reason(error: jwt.InvalidTokenError) -> str:
    return next(reason for kind, reason in _REASONS if isinstance(error, kind))


def _fits(key: Any, algorithm: str) -> bool:
    # The JWKS's keys are pinned to algorithms too: an ES256 token needs a P-256 key, EdDSA an Ed25519 one.
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if algorithm == "ES256":
        return isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    return isinstance(key, ed25519.Ed25519PublicKey)
