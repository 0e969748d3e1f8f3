"""PyJWT's ``PyJWKClient`` with the bounds a server needs, on PyJWT 2.6 as on 2.10.

PyJWT's client keeps the JWKS for ``lifespan`` seconds, but 2.6 waits on the network without a timeout,
refetches the JWKS for every token whose ``kid`` it does not know (anyone can send such tokens, so every
request could cost a fetch), and forgets the keys it had when a fetch fails. Here:

- a fetch waits at most ``timeout`` seconds and reads at most 64 KiB;
- an unknown ``kid`` refetches at most once per ``refetch_interval`` seconds (a key published since the
  last fetch is picked up at once; a flood of made-up ``kid``\\ s costs one fetch per interval);
- a failed fetch keeps the keys already known for another ``lifespan`` (a short outage of the function
  does not stop the backend); with none known it raises ``KeySetUnavailable``;
- one fetch at a time (FastAPI runs sync dependencies on a thread pool).
"""

import json
import threading
import time
import urllib.request
from typing import Any, Callable, Optional

import jwt
from jwt import PyJWK, PyJWKClient

from .errors import InvalidBackendToken, KeySetUnavailable

MAX_JWKS_BYTES = 64 * 1024


class BoundedJWKClient(PyJWKClient):
    """A ``PyJWKClient`` with a timeout, a bounded refetch on unknown ``kid`` and stale keys on failure.

    Example::

        client = BoundedJWKClient(url, timeout=5, lifespan=300, refetch_interval=30)
        key = client.get_signing_key(jwt.get_unverified_header(token)["kid"])
    """

    def __init__(
        self,
        uri: str,
        *,
        timeout: float,
        lifespan: int,
        refetch_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        super().__init__(uri, cache_keys=False, cache_jwk_set=True, lifespan=lifespan)
        self.timeout = timeout
        self.refetch_interval = refetch_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last_attempt: Optional[float] = None
        self._last_good: Any = None
        self.fetches = 0
        """How many times the JWKS was requested (for tests and metrics)."""

    def fetch_data(self) -> Any:
        """Fetches the JWKS (bounded in time and size), or falls back to the last good copy.

        :returns: The JWKS as a dict.
        :raises KeySetUnavailable: The fetch failed and no earlier copy is known.
        """
        self._last_attempt = self._clock()
        self.fetches += 1
        request = urllib.request.Request(self.uri, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read(MAX_JWKS_BYTES + 1)
            if len(body) > MAX_JWKS_BYTES:
                raise ValueError("the JWKS is larger than 64 KiB")
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
                raise ValueError("the JWKS is not a JSON object with a keys list")
        except (OSError, ValueError) as error:  # URLError, timeouts and HTTPError are OSErrors
            if self._last_good is None:
                raise KeySetUnavailable(f"cannot fetch the JWKS from {self.uri}: {error}") from error
            data = self._last_good
        self._last_good = data
        self.jwk_set_cache.put(data)
        return data

    def get_signing_key(self, kid: str) -> PyJWK:
        """The published key with this ``kid``.

        :param kid: The token header's ``kid``.
        :returns: The key.
        :raises InvalidBackendToken: No published key has this ``kid`` (after at most one refetch).
        :raises KeySetUnavailable: The JWKS cannot be had, or holds no usable signing key.
        """
        if not isinstance(kid, str) or kid == "":
            raise InvalidBackendToken("the token names no key (kid)")
        with self._lock:
            key = self.match_kid(self._signing_keys(refresh=False), kid)
            if key is None and self._may_refetch():
                key = self.match_kid(self._signing_keys(refresh=True), kid)
        if key is None:
            raise InvalidBackendToken("the token's key (kid) is not published")
        return key

    def _may_refetch(self) -> bool:
        return self._last_attempt is None or self._clock() - self._last_attempt >= self.refetch_interval

    def _signing_keys(self, refresh: bool):
        try:
            return self.get_signing_keys(refresh=refresh)
        except jwt.PyJWTError as error:  # no signing key, no usable key, or (PyJWT 2.6) a malformed key
            raise KeySetUnavailable(f"the JWKS at {self.uri} holds no usable signing key") from error
