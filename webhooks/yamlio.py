"""YAML read and written the way kubectl reads it (sigs.k8s.io/yaml, i.e. go-yaml v2), not as
PyYAML's YAML 1.1. Shared by the offline `validate` and `inject` commands.

PyYAML resolves `1:30` to 90 (sexagesimal), dates to datetime objects and `0o17` to a string, and
ends a plain scalar at a `:` glued to `]` or `,` in a flow collection, so `[001:db8::]` becomes a
map. go-yaml v2 does none of that. What it does resolve, and so do we:
* null: `~`, `null`, `Null`, `NULL` and the empty scalar;
* bool: `true`/`false` and go-yaml's 1.1 spellings `y yes on` / `n no off`, each in lower, Title
  and UPPER case (`enabled: yes` reaches the apiserver as true);
* int: Go's base-prefixed syntax once `_` is dropped: `10`, `-0x1F`, `0o17`, `017` (octal), `0b101`;
* float: `1.5`, `.5`, `1e3`, `.inf`, `-.Inf`, `.nan`; an int too large for 64 bits is a float.
  A float with an integral value (`1e3`, `2.0`) is read as the int kubectl's JSON carries.
Everything else, timestamps included, stays a string.
"""

import json
import re
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner
from yaml.tokens import ScalarToken

_TAG = "tag:yaml.org,2002:"
_BOOLS = {
    spelling: value
    for words, value in (("y yes true on", True), ("n no false off", False))
    for word in words.split()
    for spelling in (word, word.title(), word.upper())
}
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:" + "|".join(sorted(_BOOLS)) + r")$")
# Go's strconv.ParseInt(s, 0, 64) syntax (decimal, 0x, 0o, 0b, leading-0 octal), `_` dropped.
_INT = re.compile(r"^[-+]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9][0-9_]*)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_INT64 = range(-(2**63), 2**64)  # ParseInt, then ParseUint


class _Scanner(Reader, Scanner):
    """go-yaml keeps a `:` glued to a plain scalar even before `,`, `]` or `}`."""

    def scan_plain(self) -> ScalarToken:
        token: ScalarToken = super().scan_plain()
        while (
            self.flow_level
            and token.end_mark.index == self.index
            and self.peek() == ":"
            and self.peek(1) in ",]}"
        ):
            self.forward()
            token.value += ":"
            token.end_mark = self.get_mark()
        return token


class _Resolver(BaseResolver):
    pass


for _tag, _pattern, _first in (
    ("null", _NULL, ["~", "n", "N", ""]),
    ("bool", _BOOL, list("yYnNtTfFoO")),
    ("int", _INT, list("-+0123456789")),
    ("float", _FLOAT, list("-+0123456789.")),
):
    _Resolver.add_implicit_resolver(_TAG + _tag, _pattern, _first)
_Resolver.add_implicit_resolver(_TAG + "merge", re.compile(r"^<<$"), ["<"])


class _Constructor(SafeConstructor):
    def construct_go_bool(self, node: ScalarNode) -> bool:
        return _BOOLS[self.construct_scalar(node)]

    def construct_go_int(self, node: ScalarNode) -> int | float | str:
        text = self.construct_scalar(node).replace("_", "")
        body = text.lstrip("+-")
        sign = -1 if text.startswith("-") else 1
        try:
            if len(body) > 1 and body[0] == "0" and body[1].isdigit():
                if "8" in body or "9" in body:
                    return int(text, 10)  # no octal: a float to go-yaml, an integer in JSON
                value = sign * int(body, 8)
            else:
                value = sign * int(body, 0)
        except ValueError:
            return str(node.value)  # "0x_": not a number to Go either
        return value if value in _INT64 else float(value)

    def construct_go_float(self, node: ScalarNode) -> int | float | str:
        text = self.construct_scalar(node).replace("_", "")
        special = text.lower().lstrip("+-")
        if special in (".inf", ".nan"):
            return float(text.lower().replace(".", ""))
        try:
            value = float(text)
        except ValueError:
            return str(node.value)
        # kubectl sends JSON: Go prints a float64 1000 as `1000`, which the apiserver reads as
        # an integer.
        return int(value) if value.is_integer() and -(2**63) <= value < 2**63 else value


_Constructor.yaml_constructors = {
    **SafeConstructor.yaml_constructors,
    _TAG + "bool": _Constructor.construct_go_bool,
    _TAG + "int": _Constructor.construct_go_int,
    _TAG + "float": _Constructor.construct_go_float,
}


class KubeLoader(_Scanner, Parser, Composer, _Constructor, _Resolver):
    """A safe loader (no Python objects) with go-yaml v2's implicit types."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _Constructor.__init__(self)
        _Resolver.__init__(self)


class NestedTooDeeply(yaml.YAMLError, ValueError):
    """PyYAML and json build a document recursively, so one nested a few hundred levels deep
    would raise RecursionError. It is refused like any bad input instead: a YAMLError for the
    YAML readers here, a ValueError for `load_json`, as their callers already expect."""

    def __init__(self, message: str = "YAML nested too deeply") -> None:
        super().__init__(message)


def load_all(text: str) -> list[Any]:
    """Every document of a YAML stream, in order (empty documents included, as None)."""
    loader = KubeLoader(text)
    try:
        documents = []
        while loader.check_node():
            documents.append(loader.construct_document(loader.get_node()))
        return documents
    except RecursionError:
        raise NestedTooDeeply() from None
    finally:
        loader.dispose()


def json_keys(value: Any) -> Any:
    """`value` with every map key a string, as sigs.k8s.io/yaml turns YAML into JSON for the
    apiserver: YAML allows integer or boolean keys (`8080:`, `true:`), JSON does not."""
    if isinstance(value, dict):
        return {_json_key(key): json_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_keys(item) for item in value]
    return value


def _json_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return key if isinstance(key, str) else str(key)


def load_json(text: str | bytes) -> Any:
    """json.loads for text from outside (annotations, env, Secrets, records of a previous
    injection), with NestedTooDeeply (a ValueError) for a document too deep to decode."""
    try:
        return json.loads(text)
    except RecursionError as error:  # json's own message: "maximum recursion depth exceeded..."
        raise NestedTooDeeply(str(error)) from None


def safe_load(text: str) -> Any:
    """yaml.safe_load, for our own files (configs, bootstraps), with NestedTooDeeply."""
    try:
        return yaml.safe_load(text)
    except RecursionError:
        raise NestedTooDeeply() from None


class _Dumper(yaml.SafeDumper):
    """Quotes every string that PyYAML *or* go-yaml v2 would read as something else (`on`, `y`,
    `0o17`, `1:30`), so kubectl and PyYAML both read the output back as written. Shared
    subtrees are written out in full: no anchors or aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


for _tag, _pattern, _first in (
    ("bool", _BOOL, list("yYnNtTfFoO")),
    ("int", _INT, list("-+0123456789")),
    ("float", _FLOAT, list("-+0123456789.")),
):
    _Dumper.add_implicit_resolver(_TAG + _tag, _pattern, _first)


def dump_all(documents: list[Any]) -> str:
    """A YAML stream of `documents`, each started by `---`; None is an empty document, so the
    stream loads back to the same number of documents."""
    return "".join(
        "---\n"
        if document is None
        else yaml.dump(
            document,
            Dumper=_Dumper,
            explicit_start=True,
            sort_keys=False,
            default_flow_style=False,
            width=100,
        )
        for document in documents
    )
