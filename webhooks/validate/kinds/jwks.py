"""Inline JWKS of a RequestAuthentication, checked the way Istio's JWK library parses it."""

import binascii
import json
from base64 import b64decode
from typing import Any

from webhooks import yamlio

# The members each key type must carry to be a usable key (RFC 7518 §6).
_REQUIRED = {
    "RSA": ("n", "e"),
    "EC": ("crv", "x", "y"),
    "oct": ("k",),
    "OKP": ("crv", "x"),
}
# Members that are binary values (base64url); a set may hold public and private ones.
_BINARY = frozenset({"n", "e", "x", "y", "k", "d", "p", "q", "dp", "dq", "qi"})
# Private members of asymmetric keys (RFC 7518 §6.2.2, §6.3.2, RFC 8037 §2).
_PRIVATE = ("d", "p", "q", "dp", "dq", "qi")


class JWKSError(ValueError):
    """The inline JWKS cannot be parsed; the text follows Istio's `jwks parse error: `."""


def private_key_indexes(text: str) -> list[int]:
    """Parse `text` as a JWKS (or one JWK) and return the indexes of keys with private members.

    Raises JWKSError when the JWK library would refuse the document.
    """
    try:
        document = yamlio.load_json(text)
    except ValueError as error:
        raise JWKSError(f"failed to unmarshal JSON: {error}") from None
    if not isinstance(document, dict):
        raise JWKSError("failed to unmarshal JSON: expected an object")
    # Like Istio's library, a single key is accepted as a set of one.
    keys = document.get("keys", [document])
    if not isinstance(keys, list):
        raise JWKSError('"keys" must be an array of keys')
    private: list[int] = []
    for index, key in enumerate(keys):
        try:
            _check_key(key)
        except JWKSError as error:
            raise JWKSError(f"failed to parse key #{index}: {error}") from None
        if any(member in key for member in _PRIVATE):
            private.append(index)
    return private


def _check_key(key: Any) -> None:
    if not isinstance(key, dict):
        raise JWKSError("a key must be an object")
    kty = key.get("kty")
    if kty is None:
        raise JWKSError('missing "kty" field')
    if kty not in _REQUIRED:
        raise JWKSError(f"invalid key type {json.dumps(kty)}")
    for member in _REQUIRED[kty]:
        if member not in key:
            raise JWKSError(f"required field {member} is missing")
    for member, value in key.items():
        if member in _BINARY:
            _check_base64url(member, value)
        elif member == "crv" and not isinstance(value, str):
            raise JWKSError("crv must be a string")


def _check_base64url(member: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise JWKSError(f"field {member} must be a non-empty base64url string")
    # The library accepts URL-safe or standard alphabet, padded or not.
    data = value.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        b64decode(data + "=" * (-len(data) % 4), validate=True)
    except binascii.Error as error:
        raise JWKSError(f"failed to decode field {member}: {error}") from None
