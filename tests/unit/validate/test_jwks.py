"""Inline JWKS parsing: any text is either parsed or refused with JWKSError, never a crash."""

import json

from hypothesis import given, strategies as st

from webhooks.validate.kinds import jwks

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=20,
)
_KEY = st.fixed_dictionaries(
    {"kty": st.sampled_from(["RSA", "EC", "oct", "OKP", "rsa", ""])},
    optional={m: st.sampled_from(["AQAB", "", "a!", "AQ==", "x"]) for m in "nexykd"}
    | {"crv": st.sampled_from(["P-256", "Ed25519"])},
)


@given(st.text(max_size=40) | _JSON.map(json.dumps))
def test_any_text_is_parsed_or_refused(text: str) -> None:
    assert _outcome(text) != ""


@given(st.lists(_KEY, max_size=4))
def test_key_sets_are_judged_by_kty_members(keys: list[dict[str, str]]) -> None:
    outcome = _outcome(json.dumps({"keys": keys}))
    if isinstance(outcome, str):
        assert outcome.startswith("failed to parse key #")
    else:
        assert outcome == [i for i, key in enumerate(keys) if "d" in key]
        assert all(key["kty"] in ("RSA", "EC", "oct", "OKP") for key in keys)


def _outcome(text: str) -> list[int] | str:
    """The private key indexes, or the refusal's text."""
    try:
        return jwks.private_key_indexes(text)
    except jwks.JWKSError as error:
        return str(error)
