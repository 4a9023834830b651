"""Shadowed VirtualService rules: Istio's warnings for rules and matches that can never be used.

Rules are scanned in order: a rule after a rule without matches is unreachable, a match equal to
an earlier one (its name aside) is ineffective, and an HTTP URI-prefix match is ineffective when
an earlier prefix match covers it (same port, and headers, query parameters and method/authority
no narrower), as Istio words and orders them.
"""

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from webhooks.validate import fields
from webhooks.validate.models.virtualservice import HTTPMatchRequest, HTTPRoute, StringMatch
from webhooks.validate.verdict import Verdict

EXACT = "exact:"
PREFIX = "prefix:"


def check_http(v: Verdict, routes: Sequence[HTTPRoute]) -> None:
    if _plain(routes):
        return
    seen: dict[tuple[Any, ...], list[tuple[HTTPMatchRequest | None, int]]] = {}
    prefixed: list[Prefixed] = []
    empty_seen = False
    for rule, route in enumerate(routes):
        if not route.match:
            if empty_seen:
                _unused(v, _rule_name(route, rule), "only the last rule can have no matches")
            empty_seen = True
            continue
        duplicates = 0
        for index, match in enumerate(route.match):
            if empty_seen:
                _unused(v, _rule_name(route, rule), "route without matches defined before")
                continue
            key = _bucket(match)
            bucket = seen.get(key)
            if bucket is None:
                seen[key] = [(match, rule)]
            else:
                earlier = next((r for m, r in bucket if _same_http(m, match)), -1)
                if earlier >= 0:
                    by = _rule_name(routes[earlier], earlier)
                    _ineffective(v, _rule_name(route, rule), _match_name(match, index), by)
                    duplicates += 1
                    continue
                bucket.append((match, rule))
            if match is not None and match.uri is not None and match.uri.prefix:
                prefixed.append((rule, index, match.uri.prefix, match))
        if duplicates == len(route.match):
            _unused(v, _rule_name(route, rule), "all matches used by prior rules")
    if len(prefixed) > 1:
        _check_covered(v, routes, prefixed)


def _plain(routes: Sequence[HTTPRoute]) -> bool:
    """True when no warning can come out (the common case, and a hot path, so one plain loop):
    only the last rule lacks matches, no two matches share URI and port, and no URI prefix is a
    proper prefix of another (in sorted order it would be one of its successor's)."""
    keys: set[tuple[Any, ...]] = set()
    prefixes: list[str] = []
    count = 0
    last = len(routes) - 1
    for rule, route in enumerate(routes):
        if not route.match:
            if rule != last:
                return False
            continue
        for match in route.match:
            if match is None or (uri := match.uri) is None:
                return False
            keys.add((uri.exact, uri.prefix, uri.regex, match.port))
            count += 1
            if uri.prefix:
                prefixes.append(uri.prefix)
    if len(keys) != count:
        return False
    prefixes.sort()
    return not any(b != a and b.startswith(a) for a, b in pairwise(prefixes))


def check_l4(v: Verdict, matches_per_rule: Sequence[Sequence[object]]) -> None:
    """TCP and TLS rules: no names, and matches compared whole."""
    seen: list[tuple[object, int]] = []
    empty_seen = False
    for rule, matches in enumerate(matches_per_rule):
        if not matches:
            if empty_seen:
                _unused(v, f"#{rule}", "only the last rule can have no matches")
            empty_seen = True
            continue
        duplicates = 0
        for index, match in enumerate(matches):
            if empty_seen:
                _unused(v, f"#{rule}", "route without matches defined before")
                continue
            earlier = next((r for m, r in seen if m == match), None)
            if earlier is not None:
                _ineffective(v, f"#{rule}", f"#{index}", f"#{earlier}")
                duplicates += 1
            else:
                seen.append((match, rule))
        if duplicates == len(matches):
            _unused(v, f"#{rule}", "all matches used by prior rules")


def _unused(v: Verdict, rule: str, reason: str) -> None:
    v.warn(f"virtualService rule {rule} not used ({reason})")


def _ineffective(v: Verdict, rule: str, match: str, by: str) -> None:
    v.warn(
        f"virtualService rule {rule} match {match} is not used "
        f"(duplicate/overlapping match in rule {by})"
    )


# A URI-prefix match: its rule's index, its own index, the prefix and the match.
Prefixed = tuple[int, int, str, HTTPMatchRequest]


def _rule_name(route: HTTPRoute, rule: int) -> str:
    return fields.go_quote(route.name) if route.name else f"#{rule}"


def _match_name(match: HTTPMatchRequest | None, index: int) -> str:
    return fields.go_quote(match.name) if match is not None and match.name else f"#{index}"


def _bucket(match: HTTPMatchRequest | None) -> tuple[Any, ...]:
    """A cheap key that equal matches share; equality is decided within the bucket."""
    if match is None:
        return (None,)
    uri = match.uri
    if uri is None:
        return ("", match.port)
    return (uri.exact, uri.prefix, uri.regex, match.port)


def _same_http(a: HTTPMatchRequest | None, b: HTTPMatchRequest | None) -> bool:
    """Equal as Istio compares them: every field but the match's name."""
    if a is None or b is None:
        return a is b
    if a.name == b.name:
        return a == b
    left, right = dict(a.__dict__), dict(b.__dict__)
    del left["name"], right["name"]
    return left == right


def _check_covered(v: Verdict, routes: Sequence[HTTPRoute], prefixed: list[Prefixed]) -> None:
    """Pairs (earlier A, later B) where A's URI prefix is a proper prefix of B's; only those can
    cover, so they are found by looking up B's own prefixes instead of trying every pair."""
    positions: dict[str, list[int]] = {}
    for position, entry in enumerate(prefixed):
        positions.setdefault(entry[2], []).append(position)
    if len(positions) < 2:
        return
    lengths = sorted({len(prefix) for prefix in positions})
    shapes: dict[int, Shape] = {}
    pairs: list[tuple[int, int]] = []
    for later, entry in enumerate(prefixed):
        prefix = entry[2]
        for length in lengths:
            if length >= len(prefix):
                break
            for earlier in positions.get(prefix[:length], ()):
                if earlier < later and _covers(
                    shapes.get(earlier) or _shape(shapes, prefixed, earlier),
                    shapes.get(later) or _shape(shapes, prefixed, later),
                ):
                    pairs.append((earlier, later))
    pairs.sort()
    for earlier, later in pairs:
        a_rule, a_index, a_prefix, a_match = prefixed[earlier]
        b_rule, b_index, b_prefix, b_match = prefixed[later]
        _ineffective(
            v,
            _rule_name(routes[b_rule], b_rule),
            f"{_match_name(b_match, b_index)} of prefix {b_prefix}",
            f"{_match_name(a_match, a_index)} of prefix {a_prefix} on "
            + _rule_name(routes[a_rule], a_rule),
        )


# What Istio compares of a prefix match: port, method, authority, headers, query parameters and
# withoutHeaders, each value encoded as "exact:<v>", "prefix:<v>" or "" (regex and unset).
Shape = tuple[int, str, str, dict[str, str], dict[str, str], dict[str, str]]


def _shape(shapes: dict[int, Shape], prefixed: list[Prefixed], at: int) -> Shape:
    match = prefixed[at][3]
    shape = shapes[at] = (
        match.port,
        _value(match.method) or EXACT + "GET",
        _value(match.authority),
        {key: _value(value) for key, value in match.headers.items()},
        {key: _value(value) for key, value in match.query_params.items()},
        {key: _value(value) for key, value in match.without_headers.items()},
    )
    return shape


def _covers(a: Shape, b: Shape) -> bool:
    if a == b:
        return True
    if a[0] != b[0] or not _no_narrower(a[1], b[1]) or not _no_narrower(a[2], b[2]):
        return False
    return _maps_cover(a[3], b[3]) and _maps_cover(a[4], b[4]) and _maps_cover(a[5], b[5])


def _no_narrower(a: str, b: str) -> bool:
    # Istio compares the encoded "exact:"/"prefix:" strings by string prefix, kept as is.
    return a == b or a.startswith(b)


def _value(match: StringMatch | None) -> str:
    if match is None:
        return ""
    if match.exact:
        return EXACT + match.exact
    if match.prefix:
        return PREFIX + match.prefix
    return ""


def _maps_cover(a: dict[str, str], b: dict[str, str]) -> bool:
    if len(a) != len(b):
        return False
    for key, value in a.items():
        other = b.get(key)
        if other is None or not _no_narrower(value, other):
            return False
    return True
