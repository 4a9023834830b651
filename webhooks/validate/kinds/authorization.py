"""AuthorizationPolicy: actions, rules, value formats and condition keys."""

import re
from collections.abc import Sequence

from webhooks.validate import fields
from webhooks.validate.kinds.common import check_policy_target
from webhooks.validate.kinds.meta import Meta
from webhooks.validate.models.security import AuthorizationPolicy, Condition, Operation, Source
from webhooks.validate.verdict import Verdict

_MEANINGLESS = (
    "{action} action without `rules` is meaningless as it will never be triggered, add an empty "
    "rule `{{}}` if you want it be triggered for every request"
)
_KEYS = re.compile(
    r"^(request\.headers\[[^\]]+\]|source\.ip|remote\.ip|source\.namespace|source\.serviceAccount"
    r"|source\.principal|source\.trustDomain|request\.auth\.principal|request\.auth\.audiences"
    r"|request\.auth\.presenter|request\.auth\.claims(\[[^\]]+\])+|destination\.ip"
    r"|destination\.port|connection\.sni|experimental\.envoy\.filters\.[^\[]+\[[^\]]+\])$"
)
_IP_KEYS = frozenset({"source.ip", "remote.ip", "destination.ip"})
_CUSTOM_UNSUPPORTED = (
    "source.namespace",
    "source.serviceAccount",
    "source.principal",
    "request.auth.",
)


def validate(spec: AuthorizationPolicy, meta: Meta) -> Verdict:
    v = Verdict()
    check_policy_target(v, spec.selector, spec.target_ref, spec.target_refs)
    action = spec.action or "ALLOW"
    if action == "CUSTOM":
        if not spec.rules:
            v.error(_MEANINGLESS.format(action="CUSTOM"), "spec.rules")
        if spec.provider is None or not spec.provider.name:
            v.error("`provider.name` must not be empty", "spec.provider")
    elif spec.provider is not None:
        v.error(f"`provider` must not be with non CUSTOM action, found {action}", "spec.provider")
    if action == "DENY" and not spec.rules:
        v.error(_MEANINGLESS.format(action="DENY"), "spec.rules")
    for index, rule in enumerate(spec.rules):
        path = f"spec.rules[{index}]"
        if rule is None:
            v.error(f"`rule` must not be nil, found at rule {index}", path)
            continue
        if "from_" in rule.model_fields_set and not rule.from_:
            v.error(f"`from` must not be empty, found at rule {index}", path)
        for position, source in enumerate(rule.from_):
            if source is None or source.source is None or not source.source.model_fields_set:
                v.error(f"`from.source` must not be nil/empty, found at rule {index}", path)
            else:
                _check_source(v, source.source, index, action, f"{path}.from[{position}].source")
        if "to" in rule.model_fields_set and not rule.to:
            v.error(f"`to` must not be empty, found at rule {index}", path)
        for position, target in enumerate(rule.to):
            if target is None or target.operation is None or not target.operation.model_fields_set:
                v.error(f"`to.operation` must not be nil/empty, found at rule {index}", path)
            else:
                _check_operation(v, target.operation, f"{path}.to[{position}].operation")
        for position, condition in enumerate(rule.when):
            _check_condition(v, condition, action, f"{path}.when[{position}]")
    return v


def _check_values(v: Verdict, values: Sequence[str], what: str, path: str, kind: str = "") -> None:
    for value in values:
        if value == "":
            v.error(f"empty value not allowed, found in {what}", path)
        elif kind == "ip" and not (fields.is_ip(value) or fields.is_cidr(value)):
            v.error(f"bad CIDR range ({value}): invalid CIDR address: {value}", path)
        elif kind == "port" and not (value.isdigit() and 0 <= int(value) <= 65535):
            v.error(
                f'bad port ({value}): strconv.ParseUint: parsing "{value}": invalid syntax', path
            )
        elif kind == "path" and "{" in value:
            continue  # a path template ({*}, {**}), checked on its own
        elif value.count("*") > 1:
            v.error(
                f"at most one wildcard is allowed, found in {what}: {fields.go_quote(value)}", path
            )
        elif "*" in value[1:-1]:
            v.error(
                f"wildcard is only allowed at the start or end, found in {what}: "
                f"{fields.go_quote(value)}",
                path,
            )


def _check_source(v: Verdict, source: Source, rule: int, action: str, path: str) -> None:
    if source.service_accounts and (source.namespaces or source.principals):
        v.error(
            f"cannot set serviceAccounts with namespaces or principals, found at rule {rule}", path
        )
    for name in Source.model_fields:
        values: list[str] = getattr(source, name)
        what = Source.model_fields[name].alias or name
        kind = "ip" if "ip_blocks" in name else ""
        _check_values(v, values, what, f"{path}.{what}", kind)
        if action == "CUSTOM" and values and "ip_blocks" not in name:
            v.error(f"From.{what} is currently not supported with CUSTOM action", path)
        if "service_accounts" in name:
            for account in values:
                if account.count("/") > 1 or account.startswith("/") or account.endswith("/"):
                    v.error(
                        "expected format 'serviceAccount' or 'namespace/serviceAccount', found "
                        f"{fields.go_quote(account)} in {what}",
                        path,
                    )
        if "trust_domains" in name:
            for domain in values:
                if "/" in domain:
                    v.error(
                        "trust domain must not contain '/', found in "
                        f"{what}: {fields.go_quote(domain)}",
                        path,
                    )


def _check_operation(v: Verdict, operation: Operation, path: str) -> None:
    for name in Operation.model_fields:
        what = Operation.model_fields[name].alias or name
        values: list[str] = getattr(operation, name)
        kind = "port" if "ports" in name else "path" if "paths" in name else ""
        _check_values(v, values, what, f"{path}.{what}", kind)
        if "paths" in name:
            for value in values:
                if problem := _path_template_error(value):
                    v.error(
                        f"invalid or unsupported path {value}, found in {what}. {problem}", path
                    )


def _path_template_error(value: str) -> str | None:
    if "{" not in value and "}" not in value:
        return None
    segments = value.split("/")
    for position, segment in enumerate(segments):
        if (
            segment == "{**}"
            and position != len(segments) - 1
            and "{**}" in segments[position + 1 :]
        ):
            return "{**} is not the last operator"
        if segment in ("{*}", "{**}"):
            continue
        if "{" in segment or "}" in segment:
            return "Contains '{' or '}' beyond a supported path template"
    return None


def _check_condition(v: Verdict, condition: Condition, action: str, path: str) -> None:
    key = condition.key
    if not key:
        v.error("`key` must not be empty", path)
        return
    if not condition.values and not condition.not_values:
        v.error(f"at least one of `values` or `notValues` must be set for key {key}", path)
    problem = _key_error(key)
    if problem:
        v.error(f"invalid `value` for `key` {key}: {problem}", path)
    if action == "CUSTOM" and key.startswith(_CUSTOM_UNSUPPORTED):
        v.error(f"when.key({key}) is currently not supported with CUSTOM action", path)
    if key in _IP_KEYS:
        for value in [*condition.values, *condition.not_values]:
            if not (fields.is_ip(value) or fields.is_cidr(value)):
                v.error(f"invalid `value` for `key` {key}: bad CIDR range ({value})", path)
    if key == "destination.port":
        for value in [*condition.values, *condition.not_values]:
            if not (value.isdigit() and int(value) <= 65535):
                v.error(f"invalid `value` for `key` {key}: bad port ({value})", path)


def _key_error(key: str) -> str | None:
    if key in ("source.user", "request.auth.claims"):
        return f"bad key ({key}): should have format a[b]"
    if key in ("destination.namespace", "destination.name", "destination.uid"):
        return f"attribute {key} is replaced by the metadata.namespace"
    if key.startswith("destination.labels") or key == "destination.user":
        return f"attribute {key} is replaced by the workload selector"
    if not _KEYS.match(key):
        return f"unknown attribute: {key}"
    return None
