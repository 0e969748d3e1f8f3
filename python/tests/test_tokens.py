"""decode_backend_token() with shared secrets: the existing HS256 contract, and what a server adds to it."""

import time

import jwt
import pytest
from conftest import SECRET, USER_ID, hs256

from tenant_auth import Caller, InvalidBackendToken, Settings, decode_backend_token

HS256 = Settings(secrets=(SECRET,))


def refused(token, settings=HS256):
    with pytest.raises(InvalidBackendToken) as caught:
        decode_backend_token(token, settings)
    return caught.value.reason


def test_decodes_what_the_existing_contract_decodes():
    token = hs256()
    plain = jwt.decode(token, SECRET, algorithms=["HS256"])  # what TenantAuthService calls
    caller = decode_backend_token(token, HS256)
    assert caller == Caller(user_id=USER_ID, tenant_id="acme", role="user", email="a@example.com")
    assert caller.claims == plain


def test_a_null_email_is_a_caller_without_email():
    assert decode_backend_token(hs256(email=None), HS256).email is None


def test_refuses_another_secret_a_forged_algorithm_and_garbage():
    assert refused(hs256(secret="another-secret-of-enough-length-000000")) == (
        "the token's signature does not verify"
    )
    unsigned = jwt.encode({"user_id": USER_ID, "tenant_id": "acme", "role": "user", "exp": 2**31},
                          None, algorithm="none")
    assert refused(unsigned) == "the token's algorithm is not accepted"
    assert refused(hs256(algorithm="HS512", secret=SECRET * 2)) == "the token's algorithm is not accepted"
    assert refused("not.a.token") == "the token is malformed"
    assert refused("") == "there is no token"


def test_refuses_an_expired_token_after_the_leeway_only():
    now = int(time.time())
    assert decode_backend_token(hs256(exp=now - 30), HS256).tenant_id == "acme"
    assert refused(hs256(exp=now - 90)) == "the token has expired"
    strict = Settings(secrets=(SECRET,), leeway_seconds=0)
    assert refused(hs256(exp=now - 30), strict) == "the token has expired"


def test_requires_exp_and_the_contract_claims():
    assert refused(hs256(exp=None)) == "the token lacks a required claim"
    assert refused(hs256(tenant_id=None)) == "the token lacks user_id or tenant_id"
    assert refused(hs256(user_id="")) == "the token lacks user_id or tenant_id"
    assert refused(hs256(role=7)) == "the token's role or email is malformed"


def test_checks_aud_and_iss_only_when_set():
    with_aud = hs256(aud="backend", iss="exchange-token")
    # As PyJWT does without audience=: a token meant for a named audience is not for everyone.
    assert refused(with_aud) == "the token's audience (aud) is not this service"
    settings = Settings(secrets=(SECRET,), audience="backend", issuer="exchange-token")
    assert decode_backend_token(with_aud, settings).claims["aud"] == "backend"
    assert refused(hs256(aud="other", iss="exchange-token"), settings) == (
        "the token's audience (aud) is not this service"
    )
    assert refused(hs256(aud="backend", iss="elsewhere"), settings) == (
        "the token's issuer (iss) is not the expected one"
    )
    assert refused(hs256(), settings) == "the token lacks a required claim"


def test_accepts_every_secret_of_a_rotation_and_stops_at_a_real_failure():
    old, new = SECRET, "the-next-secret-0123456789abcdefghij"
    rotating = Settings(secrets=(new, old))
    assert decode_backend_token(hs256(secret=old), rotating).user_id == USER_ID
    assert decode_backend_token(hs256(secret=new, headers={"kid": "2"}), rotating).user_id == USER_ID
    # Expired under the first secret's signature check? No: the signature fails there, the second secret
    # verifies it, and the expiry is what is reported.
    assert refused(hs256(secret=old, exp=int(time.time()) - 3600), rotating) == "the token has expired"
    assert refused(hs256(secret="a-third-secret-0123456789abcdefghijk"), rotating) == (
        "the token's signature does not verify"
    )


def test_settings_from_the_environment():
    assert Settings.from_env({"JWT_SECRET": SECRET}) == HS256
    rotating = Settings.from_env({"JWT_SECRET": "a" * 32, "JWT_SECRETS": '["b%s"]' % ("b" * 31)})
    assert rotating.secrets == ("a" * 32, "b" * 32)
    jwks = Settings.from_env({"JWT_JWKS_URL": "https://x.test/jwks.json", "JWT_ALGORITHMS": "ES256, EdDSA",
                              "JWT_AUDIENCE": "backend", "JWT_LEEWAY_SECONDS": "5"})
    assert (jwks.secrets, jwks.hmac_algorithms, jwks.jwks_algorithms) == ((), (), ("ES256", "EdDSA"))
    assert (jwks.audience, jwks.issuer, jwks.leeway_seconds) == ("backend", None, 5.0)
    for bad in ({}, {"JWT_SECRET": SECRET, "JWT_ALGORITHMS": "RS256"}, {"JWT_SECRETS": '"one"'},
                {"JWT_JWKS_URL": "ftp://x.test/jwks.json"}):
        with pytest.raises(ValueError):
            Settings.from_env(bad)


def test_a_configuration_error_names_the_environment_variables_to_set():
    # Whoever reads these set environment variables, not Settings fields: each message names the variable.
    cases = {
        (): ("JWT_SECRET", "BACKEND_JWT_SECRET", "JWT_JWKS_URL", ".well-known/jwks.json"),
        (("JWT_SECRET", ""),): ("JWT_SECRET", "JWT_JWKS_URL"),
        (("JWT_SECRETS", "not json"),): ("JWT_SECRETS", "JSON list"),
        (("JWT_SECRETS", '["", "b"]'),): ("JWT_SECRET, JWT_SECRETS", "non-empty"),
        (("JWT_JWKS_URL", "ftp://x.test/jwks.json"),): ("JWT_JWKS_URL", "http(s)"),
        (("JWT_SECRET", SECRET), ("JWT_ALGORITHMS", "RS256")): ("JWT_ALGORITHMS", "RS256", "ES256"),
        (("JWT_SECRET", SECRET), ("JWT_ALGORITHMS", "ES256")): ("JWT_ALGORITHMS", "set JWT_JWKS_URL"),
        (("JWT_JWKS_URL", "https://x.test/jwks.json"), ("JWT_ALGORITHMS", "HS256")):
            ("JWT_ALGORITHMS", "set JWT_SECRET"),
        (("JWT_SECRET", SECRET), ("JWT_LEEWAY_SECONDS", "soon")): ("JWT_LEEWAY_SECONDS",),
        (("JWT_SECRET", SECRET), ("JWT_LEEWAY_SECONDS", "-1")): ("JWT_LEEWAY_SECONDS",),
    }
    for environ, named in cases.items():
        with pytest.raises(ValueError) as refused:
            Settings.from_env(dict(environ))
        for words in named:
            assert words in str(refused.value), (environ, str(refused.value))
        assert SECRET not in str(refused.value), "a secret is never repeated in an error"


def test_an_asymmetric_token_is_not_checked_with_a_secret(es256_key):
    # Pinned: secrets check HMAC algorithms only, whatever the token's header asks for.
    assert refused(es256_key.sign()) == "the token's algorithm is not accepted"
