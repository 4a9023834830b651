"""yamlio: YAML scalars resolved as go-yaml v2 (kubectl) resolves them, not as PyYAML does."""

import json
import math
from typing import Any

import pytest
from hypothesis import given, strategies as st

from webhooks import yamlio


def scalar(text: str) -> Any:
    return yamlio.load_all(f"v: {text}")[0]["v"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # PyYAML reads these as sexagesimal numbers or dates; go-yaml keeps them strings.
        ("1:30", "1:30"),
        ("1:2:3", "1:2:3"),
        ("2001-12-14", "2001-12-14"),
        ("2001-12-14T21:59:43.10-05:00", "2001-12-14T21:59:43.10-05:00"),
        ("=", "="),
        ("0x_", "0x_"),
        ("yess", "yess"),
        ("'yes'", "yes"),
        ('"1"', "1"),
        # null
        ("~", None),
        ("null", None),
        ("NULL", None),
        ("", None),
        # go-yaml v2 keeps YAML 1.1's bool spellings
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("yes", True),
        ("y", True),
        ("Y", True),
        ("on", True),
        ("ON", True),
        ("false", False),
        ("no", False),
        ("n", False),
        ("Off", False),
        # ints: Go's base-prefixed syntax, underscores dropped
        ("10", 10),
        ("+5", 5),
        ("-0x10", -16),
        ("0o17", 15),
        ("017", 15),
        ("0b101", 5),
        ("1_000", 1000),
        ("08", 8),
        ("9223372036854775807", 2**63 - 1),
        ("99999999999999999999", 1e20),
        # floats; integral ones become the ints kubectl's JSON carries
        ("1.5", 1.5),
        (".5", 0.5),
        ("1e3", 1000),
        ("2.0", 2),
        ("-1.5e-3", -0.0015),
        (".inf", math.inf),
        ("-.Inf", -math.inf),
    ],
)
def test_scalars_resolve_like_go_yaml(text: str, expected: Any) -> None:
    value = scalar(text)

    assert value == expected
    assert type(value) is type(expected)


def test_nan() -> None:
    assert math.isnan(scalar(".nan"))


def test_a_colon_glued_to_a_flow_indicator_stays_in_the_scalar() -> None:
    loaded = yamlio.load_all("a: [1.2.3.4, 001:db8::, 2001:db8::/32]\nb: {c: d::}\ne: [f:]")

    assert loaded == [
        {"a": ["1.2.3.4", "001:db8::", "2001:db8::/32"], "b": {"c": "d::"}, "e": ["f:"]}
    ]


def test_flow_mappings_still_work() -> None:
    loaded = yamlio.load_all('a: [b: c, {"d":1}, {e: f}]')

    assert loaded == [{"a": [{"b": "c"}, {"d": 1}, {"e": "f"}]}]


def test_documents_merge_keys_and_empty_documents() -> None:
    loaded = yamlio.load_all("base: &b {x: 1}\nm: {<<: *b, z: 2}\n---\n---\nk: v\n")

    assert loaded == [{"base": {"x": 1}, "m": {"x": 1, "z": 2}}, None, {"k": "v"}]


def test_no_python_objects() -> None:
    with pytest.raises(Exception, match="could not determine a constructor"):
        yamlio.load_all("a: !!python/object/apply:os.system [echo]")


# Text YAML can carry raw (no surrogates, controls, line or paragraph separators, noncharacters).
TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp", "Cn")))
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer())
    | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=20,
)


@given(JSON)
def test_json_reads_back_unchanged(value: Any) -> None:
    # JSON is YAML: whatever kubectl would send as JSON must come back as the same values.
    assert yamlio.load_all(json.dumps(value, ensure_ascii=False)) == [value]
    assert yamlio.load_all(json.dumps(value, ensure_ascii=False, indent=1)) == [value]


@pytest.mark.parametrize("read", [yamlio.load_all, yamlio.safe_load])
def test_a_document_nested_too_deeply_is_bad_yaml_not_a_recursion_error(read: Any) -> None:
    with pytest.raises(yamlio.NestedTooDeeply, match="YAML nested too deeply"):
        read("a: " + "[" * 5000)
    assert read("a: " + "[" * 50 + "]" * 50) is not None  # real manifests are far shallower


def test_json_nested_too_deeply_is_a_value_error_with_json_s_own_message() -> None:
    with pytest.raises(ValueError, match=r"^maximum recursion depth exceeded") as raised:
        yamlio.load_json("[" * 5000)
    assert isinstance(raised.value, yamlio.NestedTooDeeply)
    assert yamlio.load_json('{"a": [1]}') == {"a": [1]}
