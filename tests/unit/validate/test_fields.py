"""Shared checks: Go durations, RE2 regexes with Istio's limit, domains, headers, labels."""

import pytest

from webhooks.validate import fields


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        ("10ms", 10_000_000),
        ("1m30s", 90 * 10**9),
        ("1h", 3600 * 10**9),
        ("0", 0),
        ("1.5s", 1_500_000_000),
        ("-2s", -2 * 10**9),
        ("1us", 1000),
    ],
)
def test_go_durations_parse(text: str, nanos: int) -> None:
    assert fields.parse_duration(text) == nanos


@pytest.mark.parametrize("text", ["", "abc", "10", "1x", "s", ".s", "1.5"])
def test_bad_durations_do_not_parse(text: str) -> None:
    assert fields.parse_duration(text) is None


def test_duration_rules() -> None:
    assert fields.duration_error("1ms") is None
    assert fields.duration_error("500us") == "duration must be greater than 1ms"
    assert fields.duration_error("1001us") == "only durations to ms precision are supported"


def test_regexes_longer_than_1024_bytes_are_refused_before_compiling() -> None:
    assert fields.regex_error("uri", "a" * 1024) is None
    assert fields.regex_error("uri", "a" * 1025) == (
        '"uri": regex is too large, max length allowed is 1024'
    )


@pytest.mark.parametrize(
    ("pattern", "wording"),
    [
        ("(foo", "missing closing ): `(foo`"),
        ("(?!x)", "invalid or unsupported Perl syntax: `(?!`"),
        ("a{1001}", "invalid repeat count: `{1001}`"),
        ("[a", "missing closing ]: `[a`"),
        ("x++", "invalid nested repetition operator: `++`"),
        ("\\C", "invalid escape sequence: `\\C`"),
        ("a\\", "trailing backslash at end of expression: ``"),
    ],
)
def test_re2_errors_use_go_wording(pattern: str, wording: str) -> None:
    error = fields.regex_error("uri", pattern)
    assert error is not None
    assert error == f'"uri": error parsing regexp: {wording}; {fields.RE2_HINT}'


@pytest.mark.parametrize(
    "pattern", ["(?i)abc", "\\pN", "[[:word:]]+", "(?P<n>x)", "^/api/v[0-9]+/.*$"]
)
def test_re2_syntax_is_accepted(pattern: str) -> None:
    assert fields.regex_error("uri", pattern) is None


@pytest.mark.parametrize(
    ("host", "error"),
    [
        ("a.com", None),
        ("*.a.com", None),
        ("*", None),
        ("UPPER.com", None),
        ("", "empty domain name not allowed"),
        ("*-foo.baz", None),
        ("*foo.baz", None),
        ("a.com.", None),
        ("*--foo.baz", 'domain name "*--foo.baz" invalid (label "*--foo" invalid)'),
        ("foo*.baz", 'domain name "foo*.baz" invalid (label "foo*" invalid)'),
        # Istio checks the labels after the first one on their own, and names them only
        ("a..com", 'domain name ".com" invalid (label "" invalid)'),
        ("a.123", 'domain name "123" invalid (top level domain "123" cannot be all-numeric)'),
        ("a.b_c.1", 'domain name "b_c.1" invalid (top level domain "1" cannot be all-numeric)'),
        ("x" * 256, f'domain name "{"x" * 256}" too long (max 255)'),
    ],
)
def test_wildcard_domains(host: str, error: str | None) -> None:
    assert fields.wildcard_domain_error(host) == error


@pytest.mark.parametrize(
    ("host", "error"),
    [
        ("istio.io.", None),
        ("foo.1.", None),
        ("a.123", 'domain name "a.123" invalid (top level domain "123" cannot be all-numeric)'),
        ("a.b_c", 'domain name "a.b_c" invalid (label "b_c" invalid)'),
        ("a.com\n", 'domain name "a.com\\n" invalid (label "com\\n" invalid)'),
    ],
)
def test_fqdns(host: str, error: str | None) -> None:
    assert fields.fqdn_error(host) == error


@pytest.mark.parametrize(
    "name", [":method", "X-Foo", "a,b", "@request.auth.claims.group", "@request.auth.claims[a][b]"]
)
def test_header_names_accepted(name: str) -> None:
    assert fields.header_name_error(name) is None


@pytest.mark.parametrize("name", ["a b", ":foo", "a\tb", "@request.auth.claims"])
def test_header_names_refused(name: str) -> None:
    assert fields.header_name_error(name) == f"header name {name} is not a valid header name"


def test_percentages() -> None:
    assert fields.percent_error(0) is None
    assert fields.percent_error(0.0001) is None
    assert fields.percent_error(0.00001) is not None
    assert (
        fields.percent_error(150) == "percentage 150 is neither 0.0, nor in range [0.0001, 100.0]"
    )


def test_label_errors() -> None:
    assert fields.label_errors({"app.kubernetes.io/name": "a"}) == []
    assert fields.label_errors({"a b": "c"}) == ['invalid tag key: "a b"']
    assert fields.label_errors({"a": "-c"}) == ['invalid tag value: "-c"']


def test_ips_and_cidrs() -> None:
    assert fields.is_ip("::1")
    assert fields.is_ip("10.0.0.1")
    assert not fields.is_ip("10.0.0.256")
    assert fields.is_cidr("10.0.0.0/8")
    assert not fields.is_cidr("10.0.0.0/33")
    assert not fields.is_cidr("10.0.0.1")
