"""The example backend (examples/fastapi_backend): /me, CORS for the demo's origin, one log line per request."""

import importlib.util
import json
import logging
from pathlib import Path

import pytest
from conftest import SECRET, USER_ID, hs256
from fastapi.testclient import TestClient

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fastapi_backend" / "main.py"
ORIGIN = "http://127.0.0.1:5173"


@pytest.fixture
def backend(monkeypatch):
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.setenv("ALLOWED_ORIGINS", ORIGIN)
    spec = importlib.util.spec_from_file_location("example_backend_main", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lines = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(json.loads(record.getMessage()))

    collector = Collect()
    module.log.addHandler(collector)
    yield TestClient(module.app), lines
    module.log.removeHandler(collector)


def test_me_answers_the_callers_claims_and_logs_one_line(backend):
    client, lines = backend
    token = hs256()
    res = client.get("/me", headers={"Authorization": f"Bearer {token}", "Origin": ORIGIN})
    assert res.status_code == 200
    body = res.json()
    assert {k: body[k] for k in ("user_id", "tenant_id", "role", "email")} == {
        "user_id": USER_ID, "tenant_id": "acme", "role": "user", "email": "a@example.com"}
    assert res.headers["access-control-allow-origin"] == ORIGIN
    assert len(lines) == 1
    assert {k: lines[0][k] for k in ("method", "path", "status", "user_id", "tenant_id")} == {
        "method": "GET", "path": "/me", "status": 200, "user_id": USER_ID, "tenant_id": "acme"}


def test_a_refusal_carries_cors_so_the_browser_sees_the_401(backend):
    client, lines = backend
    res = client.get("/me", headers={"Origin": ORIGIN})
    assert res.status_code == 401
    assert res.headers["access-control-allow-origin"] == ORIGIN
    assert res.headers["access-control-expose-headers"] == "WWW-Authenticate, Retry-After"
    assert lines[-1]["status"] == 401 and lines[-1]["user_id"] is None


def test_preflights_are_answered_for_the_demo_origin_only_and_logged(backend):
    client, lines = backend
    ask = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    allowed = client.options("/me", headers={"Origin": ORIGIN, **ask})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    other = client.options("/me", headers={"Origin": "http://elsewhere.test", **ask})
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers
    assert [line["method"] for line in lines] == ["OPTIONS", "OPTIONS"]
