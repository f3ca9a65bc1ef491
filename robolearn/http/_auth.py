"""Who is calling. The user id comes from here only, never from the request body.

Production: ``Authorization: Bearer <JWT>``, checked for signature, ``exp``, ``nbf``, ``aud``
and ``iss``; the user is the ``sub`` claim. Keys: an HS256 shared secret, or RS256/ES256
public keys from a JWKS URL or file. Development: ``ROBOLEARN_AUTH=dev`` trusts an
``X-User-ID`` header instead (logged loudly at startup).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Protocol

import attrs
import jwt
import trio

from robolearn.config import Settings

from ._errors import HttpError

__all__ = ["Authenticator", "RequestHeaders"]

_log = logging.getLogger("robolearn.auth")

_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@:|\-]{0,127}")
_ASYMMETRIC = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
_LEEWAY_SECONDS = 30


class RequestHeaders(Protocol):
    """Request headers by name: plain ASGI's (`Headers`) and Quart's both serve."""

    def get(self, key: str, default: str) -> str: ...


def _unauthenticated(message: str) -> HttpError:
    return HttpError(
        401,
        "unauthenticated",
        message,
        headers={
            "WWW-Authenticate": f'Bearer realm="robolearn", error="invalid_token", '
            f'error_description="{message}"'
        },
    )


@attrs.frozen
class Authenticator:
    """Turns request headers into a user id, or raises a 401 :class:`HttpError`."""

    settings: Settings
    _jwks: jwt.PyJWKSet | None = None
    _jwks_client: jwt.PyJWKClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        jwks = None
        client = None
        if settings.jwks_file is not None:
            jwks = jwt.PyJWKSet.from_dict(json.loads(settings.jwks_file.read_text()))
        if settings.jwks_url is not None:
            client = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300)
        if settings.auth == "dev":
            _log.warning(
                "DEVELOPMENT AUTH: trusting the X-User-ID header; never expose this server"
            )
        elif settings.jwt_secret is None and jwks is None and client is None:
            _log.warning(
                "no JWT key configured (ROBOLEARN_JWT_SECRET, ROBOLEARN_JWKS_URL or "
                "ROBOLEARN_JWKS_FILE): every /chatkit request will be refused with 401"
            )
        return cls(settings, jwks, client)

    async def authenticate(self, headers: RequestHeaders) -> str:
        if self.settings.auth == "dev":
            return _check_user_id(headers.get("X-User-ID", "").strip(), "X-User-ID header")
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthenticated("send 'Authorization: Bearer <token>'")
        claims = await self._verify(token.strip())
        subject = claims.get("sub")
        if not isinstance(subject, str):
            raise _unauthenticated("the token has no 'sub' claim")
        return _check_user_id(subject, "token subject")

    async def _verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise _unauthenticated("the token is malformed") from None
        algorithm = header.get("alg")
        key: Any
        if algorithm == "HS256" and self.settings.jwt_secret is not None:
            key = self.settings.jwt_secret
        elif algorithm in _ASYMMETRIC and (self._jwks is not None or self._jwks_client):
            key = await self._public_key(token, header.get("kid"))
        else:
            # Not echoed: whatever a token carries stays out of our answers and logs.
            raise _unauthenticated("the token's signing algorithm is not accepted")
        options = {"require": ["exp", "sub"]}
        try:
            return dict(
                jwt.decode(
                    token,
                    key,
                    algorithms=[str(algorithm)],
                    audience=self.settings.jwt_audience,
                    issuer=self.settings.jwt_issuer,
                    leeway=_LEEWAY_SECONDS,
                    options=options,  # type: ignore[arg-type]
                )
            )
        except jwt.ExpiredSignatureError:
            raise _unauthenticated("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise _unauthenticated("the token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise _unauthenticated("the token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise _unauthenticated("the token is from another issuer") from None
        except jwt.InvalidSignatureError:
            raise _unauthenticated("the token signature is invalid") from None
        except jwt.MissingRequiredClaimError as exc:
            # One of the claims we require: a name of ours, safe to say.
            raise _unauthenticated(f"the token has no {exc.claim!r} claim") from None
        except jwt.InvalidTokenError:
            raise _unauthenticated("the token is invalid") from None

    async def _public_key(self, token: str, kid: object) -> Any:
        try:
            if self._jwks is not None:
                for candidate in self._jwks.keys:
                    if kid is None or candidate.key_id == kid:
                        return candidate.key
                raise _unauthenticated("the token's key id is unknown")
            assert self._jwks_client is not None
            # PyJWKClient fetches over blocking HTTP (cached); keep it off the event loop.
            signing = await trio.to_thread.run_sync(
                self._jwks_client.get_signing_key_from_jwt, token
            )
            return signing.key
        except jwt.PyJWKClientError as exc:
            _log.warning("no signing key for a token: %s", type(exc).__name__)
            raise _unauthenticated("the token's signing key could not be found") from None


def _check_user_id(user_id: str, source: str) -> str:
    if not user_id:
        raise _unauthenticated(f"missing {source}")
    if not _USER_ID.fullmatch(user_id):
        raise _unauthenticated(f"{source} must be 1-128 letters, digits or _.@:|-")
    return user_id
