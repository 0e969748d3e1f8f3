"""Shared fixtures: tokens as the function signs them, keys, and a JWKS server on a free port."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
import tenant_auth
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwt.algorithms import OKPAlgorithm
from jwt.utils import base64url_encode

# tenant_auth is imported as installed: from python/ when python/test.sh runs these tests there (python -m
# puts the working folder first), from the wheel in a virtualenv in tests/packages/python_wheel_test.ts.

SECRET = "python-shares-this-secret-0123456789"
USER_ID = "6f0c3f4e-1d2b-4c5a-9e8f-0a1b2c3d4e5f"


def pytest_report_header():
    return f"PyJWT {jwt.__version__} ({jwt.__file__}); tenant_auth from {tenant_auth.__file__}"


def claims(**overrides):
    """The function's default claim set, in its order, expiring in an hour."""
    base = {
        "user_id": USER_ID,
        "tenant_id": "acme",
        "role": "user",
        "email": "a@example.com",
        "exp": int(time.time()) + 3600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None or k == "email"}


def hs256(secret=SECRET, algorithm="HS256", headers=None, **overrides):
    """A token as the function signs it with a shared secret."""
    return jwt.encode(claims(**overrides), secret, algorithm=algorithm, headers=headers)


def p256_jwk(public_key):
    """The public JWK of a P-256 key, with both coordinates 32 bytes long as RFC 7518 (6.2.1.2) requires and
    jose publishes them. PyJWT 2.6's ``ECAlgorithm.to_jwk`` drops leading zero bytes (about 1 key in 128),
    and its own ``from_jwk`` then refuses that JWK: a test key made with it failed at random."""
    numbers = public_key.public_numbers()
    x, y = (base64url_encode(n.to_bytes(32, "big")).decode() for n in (numbers.x, numbers.y))
    return {"kty": "EC", "crv": "P-256", "x": x, "y": y}


class SigningKey:
    """A private key with its kid, and its public JWK as the function publishes it."""

    def __init__(self, algorithm, kid):
        self.algorithm, self.kid = algorithm, kid
        if algorithm == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
            public = p256_jwk(self.private.public_key())
        else:
            self.private = ed25519.Ed25519PrivateKey.generate()
            public = json.loads(OKPAlgorithm.to_jwk(self.private.public_key()))
        self.jwk = {**{k: public[k] for k in ("kty", "crv", "x", "y") if k in public},
                    "kid": kid, "alg": algorithm, "use": "sig"}

    def sign(self, kid=None, **overrides):
        return jwt.encode(claims(**overrides), self.private, algorithm=self.algorithm,
                          headers={"kid": kid or self.kid})


@pytest.fixture
def es256_key():
    return SigningKey("ES256", "es-1")


@pytest.fixture
def eddsa_key():
    return SigningKey("EdDSA", "ed-1")


class JwksServer:
    """Serves ``jwks`` at ``url``; ``mode`` is ``ok``, ``hang`` (never answers in time) or ``down`` (500)."""

    def __init__(self):
        self.jwks = {"keys": []}
        self.mode = "ok"
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests += 1
                if server.mode == "hang":
                    time.sleep(3)
                if server.mode == "down":
                    self.send_response(500)
                    self.end_headers()
                    return
                body = json.dumps(server.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def publish(self, *keys):
        self.jwks = {"keys": [key.jwk for key in keys]}


@pytest.fixture
def jwks_server():
    server = JwksServer()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()
