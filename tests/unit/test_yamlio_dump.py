"""yamlio.dump_all: what it writes, kubectl (go-yaml v2, as yamlio.load_all) and PyYAML read back
as written. The loader itself is tested in tests/unit/test_yamlio_load.py."""

from typing import Any

import yaml
from hypothesis import given, strategies as st

from webhooks import yamlio

# Strings that one of the two readers resolves to something else when written plain.
TRICKY = ["on", "off", "y", "N", "yes", "0o17", "0x1F", "017", "1_000", "1:30", "2001-12-14",
          "1e3", ".inf", "~", "null", "", "001:db8::", "=", "<<", "0b101", "+1", ".5"]  # fmt: skip
scalars = (
    st.sampled_from(TRICKY)
    | st.text(max_size=12)
    | st.integers(-(2**63), 2**63 - 1)
    | st.booleans()
    | st.none()
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(TRICKY) | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.lists(st.dictionaries(st.text(max_size=6), documents, max_size=4) | st.none()))
def test_both_readers_read_back_what_was_written(stream: list[Any]) -> None:
    text = yamlio.dump_all(stream)
    assert yamlio.load_all(text) == stream
    assert list(yaml.safe_load_all(text)) == stream


def test_shared_subtrees_are_written_in_full() -> None:
    shared = {"name": "A", "value": "1"}
    text = yamlio.dump_all([{"a": shared, "b": shared}])
    assert "&" not in text
    assert "*" not in text
