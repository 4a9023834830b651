"""Property: validation never raises; it answers allowed, or denied with a message."""

import copy
from typing import Any

from hypothesis import given, strategies as st

from tests.unit.validate.corpus import corpus_documents
from webhooks.validate import validator

SEEDS = [document for _, document in corpus_documents("dataset/*.yaml")]
SEEDS += [
    {k: v for k, v in document.items() if k != "_err"}
    for _, document in corpus_documents("crds/*.yaml")
]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False),
    st.text(max_size=12), st.sampled_from(["*", "", "a/b", "1.2.3.4/33", "10ms", "(x", "unix://"]),
    # past int()'s 4,300 digits (a valid port among them); a digit int() refuses
    st.sampled_from(["1" * 5000, "0" * 5000 + "80", "127.0.0.1:" + "0" * 5000 + "80", "²"]),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*prefix, index))
    return found


def _replace(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    target = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return document


@given(st.sampled_from(SEEDS), st.data(), values)
def test_mutated_corpus_documents_never_raise(seed: Any, data: st.DataObject, value: Any) -> None:
    document = copy.deepcopy(seed)
    paths = [p for p in _paths(document.get("spec", {}), ("spec",)) if "spec" in document]
    if paths:
        document = _replace(document, data.draw(st.sampled_from(paths)), value)
    outcome = validator.validate_object(document, "default")
    assert outcome.allowed or outcome.message


@given(values)
def test_arbitrary_objects_never_raise(value: Any) -> None:
    outcome = validator.validate_object(value, "default")
    assert outcome.allowed or outcome.message
