"""Asymmetric tokens through the JWKS: PyJWKClient with a timeout, a bounded refetch and stale keys."""

import time

import jwt
import pytest
from conftest import SigningKey, claims

from tenant_auth import InvalidBackendToken, KeySetUnavailable, Settings
from tenant_auth.jwks import BoundedJWKClient
from tenant_auth.tokens import BackendTokenVerifier


def verifier(server, **settings):
    options = {"jwks_algorithms": ("ES256", "EdDSA"), **settings}
    return BackendTokenVerifier(Settings(jwks_url=server.url, **options))


def refused(verify, token):
    with pytest.raises(InvalidBackendToken) as caught:
        verify.decode(token)
    return caught.value.reason


def test_es256_and_eddsa_tokens_verify_with_one_fetch(jwks_server, es256_key, eddsa_key):
    jwks_server.publish(es256_key, eddsa_key)
    verify = verifier(jwks_server)
    for _ in range(3):
        assert verify.decode(es256_key.sign()).tenant_id == "acme"
        assert verify.decode(eddsa_key.sign()).tenant_id == "acme"
    assert jwks_server.requests == 1


def test_algorithms_are_pinned(jwks_server, es256_key, eddsa_key):
    jwks_server.publish(es256_key, eddsa_key)
    es_only = verifier(jwks_server, jwks_algorithms=("ES256",))
    assert refused(es_only, eddsa_key.sign()) == "the token's algorithm is not accepted"
    # An EdDSA token naming the P-256 key: the key does not fit the algorithm.
    assert refused(verifier(jwks_server), eddsa_key.sign(kid="es-1")) == (
        "the token's key (kid) is not a key of its algorithm"
    )
    # HMAC with the public key as the secret (algorithm confusion): no secret is configured, refused.
    forged = jwt.encode(claims(), es256_key.jwk["x"], algorithm="HS256", headers={"kid": "es-1"})
    assert refused(verifier(jwks_server), forged) == "the token's algorithm is not accepted"


def test_an_unknown_kid_refetches_at_most_once_per_interval(jwks_server, es256_key):
    jwks_server.publish(es256_key)
    now = [1000.0]
    client = BoundedJWKClient(jwks_server.url, timeout=2, lifespan=300, refetch_interval=30,
                              clock=lambda: now[0])
    assert client.get_signing_key("es-1").key_id == "es-1"
    assert jwks_server.requests == 1
    now[0] += 31
    for _ in range(20):
        with pytest.raises(InvalidBackendToken):
            client.get_signing_key("made-up")
    assert jwks_server.requests == 2, "one refetch for twenty unknown kids"
    now[0] += 31
    with pytest.raises(InvalidBackendToken):
        client.get_signing_key("made-up")
    assert jwks_server.requests == 3


def test_a_key_published_after_the_first_fetch_is_picked_up(jwks_server, es256_key):
    jwks_server.publish(es256_key)
    verify = verifier(jwks_server, jwks_refetch_seconds=0)
    assert verify.decode(es256_key.sign()).user_id
    next_key = SigningKey("ES256", "es-2")
    jwks_server.publish(es256_key, next_key)
    assert verify.decode(next_key.sign()).user_id
    assert verify.decode(es256_key.sign()).user_id
    assert jwks_server.requests == 2


def test_a_hanging_jwks_fails_within_the_timeout(jwks_server, es256_key):
    jwks_server.publish(es256_key)
    jwks_server.mode = "hang"
    verify = verifier(jwks_server, jwks_timeout_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(KeySetUnavailable):
        verify.decode(es256_key.sign())
    assert time.monotonic() - started < 2


def test_a_p256_key_with_a_leading_zero_coordinate_verifies(jwks_server):
    # About 1 P-256 key in 128 has a coordinate below 2**248, which a JWK still writes as 32 bytes.
    def smallest_coordinate(key):
        numbers = key.private.public_key().public_numbers()
        return min(numbers.x, numbers.y)

    key = SigningKey("ES256", "es-zero")
    while smallest_coordinate(key) >= 2**248:
        key = SigningKey("ES256", "es-zero")
    jwks_server.publish(key)
    assert verifier(jwks_server).decode(key.sign()).user_id


def test_keys_already_known_outlive_an_outage(jwks_server, es256_key):
    jwks_server.publish(es256_key)
    verify = verifier(jwks_server, jwks_cache_seconds=1)
    assert verify.decode(es256_key.sign()).user_id
    jwks_server.mode = "down"
    time.sleep(1.1)  # the cached set expires; the refetch fails; the keys known stay in use
    assert verify.decode(es256_key.sign()).user_id
    assert jwks_server.requests == 2


def test_a_jwks_that_cannot_be_used_is_unavailable_not_a_bad_token(jwks_server, es256_key):
    jwks_server.mode = "down"
    with pytest.raises(KeySetUnavailable):
        verifier(jwks_server).decode(es256_key.sign())
    jwks_server.mode = "ok"
    jwks_server.jwks = {"keys": [{"kty": "EC", "crv": "P-256", "kid": "bad", "x": "AA", "y": "AA"}]}
    with pytest.raises(KeySetUnavailable):
        verifier(jwks_server).decode(es256_key.sign())


def test_a_token_without_kid_is_refused(jwks_server, es256_key):
    jwks_server.publish(es256_key)
    no_kid = jwt.encode(claims(), es256_key.private, algorithm="ES256")
    assert refused(verifier(jwks_server), no_kid) == "the token names no key (kid)"
