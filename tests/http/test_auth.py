"""Bearer-token authentication through the real HTTP stack."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from robolearn.config import Settings

from .conftest import user_input

SECRET = "s" * 40
AUD, ISS = "robolearn-api", "https://auth.robolearn.example"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Settings:
    jwk = json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    return Settings(
        database_url=database_url,
        auth="jwt",
        jwt_secret=SECRET,
        jwks_file=jwks,
        jwt_audience=AUD,
        jwt_issuer=ISS,
    )


def claims(**override: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "alice", "aud": AUD, "iss": ISS, "iat": now, "exp": now + 600, **override}


def hs(**override: Any) -> str:
    return jwt.encode(claims(**override), SECRET, algorithm="HS256")


async def _list(http: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await http.post("/chatkit", json={"type": "threads.list", "params": {}}, headers=headers)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


TOKENS = {
    "expired": (lambda key: hs(exp=int(time.time()) - 3600), "expired"),
    "not yet valid": (lambda key: hs(nbf=int(time.time()) + 3600), "not valid yet"),
    "wrong audience": (lambda key: hs(aud="someone-else"), "audience"),
    "wrong issuer": (lambda key: hs(iss="https://evil.example"), "issuer"),
    "bad signature": (lambda key: jwt.encode(claims(), "x" * 40, algorithm="HS256"), "signature"),
    "no subject": (
        lambda key: jwt.encode({k: v for k, v in claims().items() if k != "sub"}, SECRET, "HS256"),
        "sub",
    ),
    "no expiry": (
        lambda key: jwt.encode({k: v for k, v in claims().items() if k != "exp"}, SECRET, "HS256"),
        "exp",
    ),
    "alg none": (lambda key: jwt.encode(claims(), None, algorithm="none"), "not accepted"),
    "garbage": (lambda key: "not.a.token", "malformed"),
    "a newline after the subject": (lambda key: hs(sub="alice\n"), "must be"),
    "unknown kid": (
        lambda key: jwt.encode(claims(), key, algorithm="RS256", headers={"kid": "k9"}),
        "key id",
    ),
}


@pytest.mark.parametrize("case", list(TOKENS))
async def test_bad_tokens_are_401(
    http: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey, case: str
) -> None:
    make, reason = TOKENS[case]
    response = await _list(http, bearer(make(rsa_key)))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert reason in response.json()["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="robolearn"')


async def test_nothing_from_a_token_is_echoed(http: httpx.AsyncClient) -> None:
    header = base64.urlsafe_b64encode(b'{"alg": "HS256\\r\\nX-Evil: 1"}').rstrip(b"=")
    forged = header.decode() + ".e30.c2ln"
    for token in (forged, jwt.encode(claims(), "k" * 64, algorithm="HS512")):
        response = await _list(http, bearer(token))
        assert response.status_code == 401
        challenge = response.headers["WWW-Authenticate"] + response.text
        assert "HS512" not in challenge and "Evil" not in challenge


async def test_missing_token_and_dev_header_are_401(http: httpx.AsyncClient) -> None:
    assert (await _list(http, {})).status_code == 401
    # The development header means nothing unless dev auth is switched on.
    assert (await _list(http, {"X-User-ID": "alice"})).status_code == 401


async def test_hs256_and_rs256_tokens_work(
    http: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    assert (await _list(http, bearer(hs()))).status_code == 200
    rs = jwt.encode(claims(sub="bob"), rsa_key, algorithm="RS256", headers={"kid": "k1"})
    assert (await _list(http, bearer(rs))).status_code == 200


async def test_user_comes_from_the_token_not_the_body(http: httpx.AsyncClient) -> None:
    alice, bob = bearer(hs(sub="alice")), bearer(hs(sub="bob"))
    created = await http.post(
        "/chatkit",
        json={
            "type": "threads.create",
            "params": {"input": user_input("mine")},
            "metadata": {"userInfo": {"id": "bob"}},
        },
        headers=alice,
    )
    thread_id = json.loads(created.text.split("\n\n")[0][6:])["thread"]["id"]
    listed = (await _list(http, bob)).json()["data"]
    assert listed == []
    as_bob = await http.post(
        "/chatkit",
        json={"type": "threads.get_by_id", "params": {"thread_id": thread_id}},
        headers=bob,
    )
    assert as_bob.status_code == 404
    assert [t["id"] for t in (await _list(http, alice)).json()["data"]] == [thread_id]
