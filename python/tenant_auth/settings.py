"""How backend tokens are verified: shared secrets (HS256, the default), a JWKS URL, or both.

Every algorithm is pinned: HMAC algorithms are only ever checked with the secrets, asymmetric ones only
with the JWKS's keys, so a token cannot pick its own way of being verified.
"""

import json
import os
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
"""Algorithms checked with a shared secret."""

JWKS_ALGORITHMS = ("ES256", "EdDSA")
"""Algorithms checked with a public key from the JWKS (what the function can sign with)."""


@dataclass(frozen=True)
class Settings:
    """The verification settings. Frozen and hashable: ``decode_backend_token`` keeps one verifier (and
    its JWKS cache) per distinct ``Settings``.

    Example::

        Settings(secrets=("the-function's-BACKEND_JWT_SECRET",))          # HS256, as before
        Settings(secrets=("new-secret", "old-secret"))                     # HS256 secret rotation
        Settings(jwks_url="https://<ref>.supabase.co/functions/v1/exchange-token/.well-known/jwks.json",
                 jwks_algorithms=("ES256",))
    """

    secrets: Tuple[str, ...] = ()
    """Shared secrets, tried in order (several during a rotation). The function's ``BACKEND_JWT_SECRET``."""
    hmac_algorithms: Tuple[str, ...] = ("HS256",)
    """HMAC algorithms accepted with ``secrets``."""
    jwks_url: Optional[str] = None
    """Where the function publishes its public keys; enables ``jwks_algorithms``."""
    jwks_algorithms: Tuple[str, ...] = ("ES256",)
    """Asymmetric algorithms accepted with keys from ``jwks_url``."""
    audience: Optional[str] = None
    """Required ``aud`` (the function's ``BACKEND_JWT_AUDIENCE``); without it, a token with ``aud`` is refused."""
    issuer: Optional[str] = None
    """Required ``iss`` (the function's ``BACKEND_JWT_ISSUER``)."""
    leeway_seconds: float = 60
    """Clock skew allowed on ``exp``."""
    jwks_timeout_seconds: float = 5
    """Longest wait for the JWKS (PyJWT 2.6's own client has no timeout)."""
    jwks_cache_seconds: int = 300
    """How long a fetched JWKS is used before it is fetched again."""
    jwks_refetch_seconds: float = 30
    """An unknown ``kid`` refetches the JWKS at most once in this many seconds (PyJWT refetches every time)."""

    def __post_init__(self):
        object.__setattr__(self, "secrets", tuple(self.secrets))
        object.__setattr__(self, "hmac_algorithms", tuple(self.hmac_algorithms))
        object.__setattr__(self, "jwks_algorithms", tuple(self.jwks_algorithms))
        if not self.secrets and not self.jwks_url:
            raise _FieldError("secrets", "Settings need secrets, a jwks_url, or both")
        if any(not isinstance(s, str) or s == "" for s in self.secrets):
            raise _FieldError("secrets", "every secret must be a non-empty string")
        _check_subset("hmac_algorithms", self.hmac_algorithms, HMAC_ALGORITHMS)
        _check_subset("jwks_algorithms", self.jwks_algorithms, JWKS_ALGORITHMS)
        if self.jwks_url is not None and not self.jwks_url.startswith(("https://", "http://")):
            raise _FieldError("jwks_url", "jwks_url must be an http(s) URL")
        if self.leeway_seconds < 0:
            raise _FieldError("leeway_seconds", "leeway_seconds must not be negative")
        if self.jwks_timeout_seconds <= 0 or self.jwks_cache_seconds <= 0:
            raise ValueError("JWKS timeout and JWKS cache lifetime must be positive")

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "Settings":
        """Reads the settings from the environment.

        - ``JWT_SECRET``: the shared secret (the function's ``BACKEND_JWT_SECRET``), used verbatim.
        - ``JWT_SECRETS``: more secrets, as a JSON list (``'["new", "old"]'``), tried after ``JWT_SECRET``.
        - ``JWT_JWKS_URL``: the function's JWKS, for ES256/EdDSA tokens.
        - ``JWT_ALGORITHMS``: the accepted algorithms, comma-separated (default ``HS256`` with secrets,
          ``ES256`` with a JWKS URL).
        - ``JWT_AUDIENCE``, ``JWT_ISSUER``: required ``aud`` and ``iss``, when the function sets them.
        - ``JWT_LEEWAY_SECONDS``: clock skew allowed on ``exp`` (default 60).

        :param environ: The environment (default ``os.environ``).
        :returns: The settings.
        :raises ValueError: A setting is malformed, or neither secrets nor a JWKS URL are set; the message
            names the environment variables to set.
        """
        env = os.environ if environ is None else environ
        if not env.get("JWT_SECRET") and not env.get("JWT_SECRETS") and not env.get("JWT_JWKS_URL"):
            raise ValueError(_NOTHING_TO_VERIFY_WITH)
        secrets = [env["JWT_SECRET"]] if env.get("JWT_SECRET") else []
        if env.get("JWT_SECRETS"):
            try:
                extra = json.loads(env["JWT_SECRETS"])
            except ValueError:
                extra = None
            if not isinstance(extra, list):
                raise ValueError('JWT_SECRETS must be a JSON list of strings: \'["new", "old"]\'')
            secrets.extend(extra)
        fields = {"secrets": tuple(secrets), "jwks_url": env.get("JWT_JWKS_URL") or None}
        if env.get("JWT_ALGORITHMS"):
            algorithms = [a.strip() for a in env["JWT_ALGORITHMS"].split(",") if a.strip()]
            _check_algorithms(algorithms, bool(secrets), bool(fields["jwks_url"]))
            fields["hmac_algorithms"] = tuple(a for a in algorithms if a in HMAC_ALGORITHMS)
            fields["jwks_algorithms"] = tuple(a for a in algorithms if a not in HMAC_ALGORITHMS)
        for name, key in (("audience", "JWT_AUDIENCE"), ("issuer", "JWT_ISSUER")):
            if env.get(key):
                fields[name] = env[key]
        if env.get("JWT_LEEWAY_SECONDS"):
            try:
                fields["leeway_seconds"] = float(env["JWT_LEEWAY_SECONDS"])
            except ValueError:
                raise ValueError("JWT_LEEWAY_SECONDS must be a number of seconds, e.g. 60") from None
        try:
            return cls(**fields)
        except _FieldError as error:
            # The checks name fields; whoever reads this message set environment variables.
            raise ValueError(f"{_ENV_OF_FIELD[error.field]}: {error}") from None


_NOTHING_TO_VERIFY_WITH = (
    "No way to verify backend tokens: set JWT_SECRET to the function's BACKEND_JWT_SECRET (HS256, the "
    "default; JWT_SECRETS adds more, as a JSON list), or JWT_JWKS_URL to the function's "
    "https://<ref>.supabase.co/functions/v1/exchange-token/.well-known/jwks.json for ES256/EdDSA tokens"
)

_ENV_OF_FIELD = {
    "secrets": "JWT_SECRET, JWT_SECRETS",
    "jwks_url": "JWT_JWKS_URL",
    "hmac_algorithms": "JWT_ALGORITHMS",
    "jwks_algorithms": "JWT_ALGORITHMS",
    "leeway_seconds": "JWT_LEEWAY_SECONDS",
}
"""The environment variable(s) behind each field that ``Settings.from_env`` sets."""


class _FieldError(ValueError):
    """A setting refused, with the field it is about (so ``from_env`` can name the variable instead)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _check_algorithms(algorithms, have_secrets: bool, have_jwks_url: bool) -> None:
    """JWT_ALGORITHMS names only known algorithms, each with the variable that lets it verify."""
    unknown = [a for a in algorithms if a not in HMAC_ALGORITHMS + JWKS_ALGORITHMS]
    if unknown:
        raise ValueError(
            f"JWT_ALGORITHMS: {', '.join(unknown)} not among {', '.join(HMAC_ALGORITHMS + JWKS_ALGORITHMS)}"
        )
    asymmetric = [a for a in algorithms if a in JWKS_ALGORITHMS]
    if asymmetric and not have_jwks_url:
        raise ValueError(f"JWT_ALGORITHMS has {', '.join(asymmetric)}: set JWT_JWKS_URL to the function's JWKS")
    hmac = [a for a in algorithms if a in HMAC_ALGORITHMS]
    if hmac and not have_secrets:
        raise ValueError(f"JWT_ALGORITHMS has {', '.join(hmac)}: set JWT_SECRET to the function's BACKEND_JWT_SECRET")


def _check_subset(name: str, chosen: Tuple[str, ...], allowed: Tuple[str, ...]) -> None:
    unknown = [a for a in chosen if a not in allowed]
    if unknown:
        raise _FieldError(name, f"{name}: {', '.join(unknown)} not among {', '.join(allowed)}")
