"""The values.schema.json definitions that mirror webhooks/inject/formats.py, built from its rules.

`make manifests` writes them into the schema's `definitions`; a test fails when they are stale,
and hypothesis tests check that the schema and the loader agree on every string.
"""

import ipaddress
from typing import Any

from webhooks.inject import formats

# What str.strip() removes around each list item: every character Python calls whitespace.
_SPACE = "".join(chr(code) for code in range(0x110000) if chr(code).isspace())


def _char_class(chars: str, negate: bool = False) -> str:
    """A regex character class of `chars`, consecutive code points as ranges."""
    codes = sorted({ord(c) for c in chars})
    ranges: list[tuple[int, int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))

    def escape(code: int) -> str:
        return "\\" + chr(code) if chr(code) in "\\]^-[" else chr(code)

    body = "".join(escape(a) if a == b else f"{escape(a)}-{escape(b)}" for a, b in ranges)
    return f"[{'^' if negate else ''}{body}]"


WS = _char_class(_SPACE)


def _list_of(item: str, star: bool = False) -> str:
    """Comma-separated items, each stripped of whitespace, empty items skipped (formats.split_list);
    `star`: "*" alone, whitespace around it allowed."""
    segment = f"{WS}*(({item}){WS}*)?"
    body = f"{segment}(,{segment})*"
    if star:
        body = f"{WS}*\\*{WS}*|{body}"
    return f"^({body})$"


# A port 1-65535 as int() reads ASCII digits: leading zeros allowed, 0 refused.
PORT = "0*([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"

# ipaddress.ip_network(strict=False): IPv4 octets without leading zeros; a prefix length (ASCII
# digits, leading zeros allowed) or, for IPv4, a netmask or hostmask; IPv6 with "::" standing for
# at least one group, an IPv4 tail, and a %scope (stripped at the end of an item).
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_V4 = f"{_OCTET}(\\.{_OCTET}){{3}}"
_MASKS = sorted(
    {str(ipaddress.IPv4Network(f"0.0.0.0/{n}").netmask) for n in range(33)}
    | {str(ipaddress.IPv4Network(f"0.0.0.0/{n}").hostmask) for n in range(33)}
)
_MASK = "|".join(mask.replace(".", "\\.") for mask in _MASKS)
_V4_NET = f"{_V4}(/(0*([0-9]|[12][0-9]|3[0-2])|{_MASK}))?"
_H = "[0-9a-fA-F]{1,4}"
_V6 = [f"({_H}:){{7}}{_H}", f"({_H}:){{1,7}}:", f":(:{_H}){{1,7}}", "::"]
_V6 += [f"({_H}:){{{a}}}(:{_H}){{1,{7 - a}}}" for a in range(1, 7)]
_V6 += [f"({_H}:){{6}}{_V4}", f"::({_H}:){{0,5}}{_V4}"]
_V6 += [f"({_H}:){{{a}}}:({_H}:){{0,{5 - a}}}{_V4}" for a in range(1, 6)]
_P6 = "0*([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8])"
_SCOPE_AT_END = f"%[^%/,]*{_char_class(_SPACE + '%/,', negate=True)}[^%/,]*"
_V6_NET = f"({'|'.join(_V6)})(%[^%/,]+/{_P6}|{_SCOPE_AT_END}|/{_P6})?"
CIDR = f"{_V4_NET}|{_V6_NET}"

# component:level, the component non-empty once the item is stripped.
_COMPONENT = (
    f"{_char_class(_SPACE + ',:', negate=True)}[^,:]*:({'|'.join(formats.ENVOY_LOG_LEVELS)})"
)


def definitions() -> dict[str, Any]:
    return {
        "portList": {"type": "string", "pattern": _list_of(PORT)},
        "portListOrStar": {"type": "string", "pattern": _list_of(PORT, star=True)},
        "cidrList": {"type": "string", "pattern": _list_of(CIDR)},
        "cidrListOrStar": {"type": "string", "pattern": _list_of(CIDR, star=True)},
        "interfaceList": {"type": "string", "pattern": _list_of(formats.INTERFACE.pattern)},
        "componentLogLevel": {"type": "string", "pattern": _list_of(_COMPONENT)},
        "interceptionMode": {"enum": list(formats.INTERCEPTION_MODES)},
        "logLevel": {"enum": list(formats.ENVOY_LOG_LEVELS)},
        "duration": {"type": "string", "pattern": f"^({formats.DURATION.pattern})$"},
        "statusPort": {
            "type": "integer",
            "minimum": 1,
            "maximum": 65535,
            "not": {"enum": list(formats.RESERVED_STATUS_PORTS)},
        },
    }
