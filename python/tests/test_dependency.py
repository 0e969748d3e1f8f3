"""BackendAuth in a FastAPI app, through TestClient: 401 with WWW-Authenticate, 503 for the JWKS, the caller."""

from conftest import SECRET, USER_ID, hs256
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from tenant_auth import BackendAuth, Caller, Settings


def client(settings=Settings(secrets=(SECRET,))):
    app = FastAPI()
    auth = BackendAuth(settings)

    @app.get("/me")
    def me(request: Request, caller: Caller = Depends(auth)):
        assert request.state.caller is caller
        return {"user_id": caller.user_id, "tenant_id": caller.tenant_id, "role": caller.role,
                "email": caller.email}

    return TestClient(app)


def test_the_caller_of_a_valid_token():
    res = client().get("/me", headers={"Authorization": f"Bearer {hs256()}"})
    assert res.status_code == 200
    assert res.json() == {"user_id": USER_ID, "tenant_id": "acme", "role": "user", "email": "a@example.com"}


def test_no_authorization_is_401_with_a_bare_challenge():
    res = client().get("/me")
    assert res.status_code == 401
    assert res.headers["www-authenticate"] == 'Bearer realm="api"'


def test_a_header_that_is_not_a_bearer_token_is_401_invalid_token():
    for header in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", hs256()):
        res = client().get("/me", headers={"Authorization": header})
        assert res.status_code == 401, header
        assert res.headers["www-authenticate"] == (
            'Bearer realm="api", error="invalid_token", error_description="not a bearer token"'
        )


def test_a_refused_token_is_401_invalid_token_with_the_reason():
    res = client().get("/me", headers={"Authorization": f"Bearer {hs256(secret='x' * 40)}"})
    assert res.status_code == 401
    assert res.headers["www-authenticate"] == (
        'Bearer realm="api", error="invalid_token", '
        'error_description="the token\'s signature does not verify"'
    )
    assert res.json() == {"detail": "The backend token is not valid"}


def test_an_unreachable_jwks_is_503_with_retry_after(jwks_server, es256_key):
    jwks_server.mode = "down"
    res = client(Settings(jwks_url=jwks_server.url)).get(
        "/me", headers={"Authorization": f"Bearer {es256_key.sign()}"})
    assert res.status_code == 503
    assert res.headers["retry-after"] == "5"
    assert "www-authenticate" not in res.headers
