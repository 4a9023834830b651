"""AuthorizationPolicy: actions, rules, value formats and condition keys."""

from collections.abc import Sequence

from webhooks.validate import fields
from webhooks.validate.kinds import attributes
from webhooks.validate.kinds.common import check_policy_target
from webhooks.validate.kinds.meta import Meta
from webhooks.validate.models.security import (
    AuthorizationPolicy,
    Condition,
    Operation,
    Rule,
    Source,
)
from webhooks.validate.verdict import Verdict

_MEANINGLESS = (
    "{action} action without `rules` is meaningless as it will never be triggered, add an empty "
    "rule `{{}}` if you want it be triggered for every request"
)
_DENY_HTTP_ONLY = (
    "configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the "
    "use of only HTTP attributes in a DENY rule; it is recommended to explicitly specify the port"
)
# What the CUSTOM action cannot match on, in Istio's order (its messages name the Go fields).
_CUSTOM_UNSUPPORTED_SOURCES = (
    "namespaces",
    "not_namespaces",
    "service_accounts",
    "not_service_accounts",
    "principals",
    "not_principals",
    "request_principals",
    "not_request_principals",
)
_CUSTOM_UNSUPPORTED_KEYS = frozenset(
    {"source.namespace", "source.serviceAccount", "source.principal"}
)
_CUSTOM_UNSUPPORTED = "{} is currently not supported with CUSTOM action"


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
    if action == "DENY" and any(rule is not None and _uses_http_only(rule) for rule in spec.rules):
        v.warn(_DENY_HTTP_ONLY, "spec.rules")
    # Istio prefixes the policy's own errors (multierror.Prefix), not the metadata ones.
    prefix = f"invalid policy {meta.name}.{meta.namespace}: "
    v.errors = [prefix + error for error in v.errors]
    return v


def _go_name(alias: str) -> str:
    """The field as Istio's messages name it: the Go field (Principals, NotPaths)."""
    return alias[:1].upper() + alias[1:]


def _check_values(v: Verdict, values: Sequence[str], what: str, path: str, kind: str = "") -> None:
    if kind == "ip":
        for message in attributes.ip_errors(values):
            v.error(message, path)
        return
    if kind == "account":
        if account_problem := attributes.service_account_error(what, values):
            v.error(account_problem, path)
        return
    for value in values:
        if value == "":
            v.error(f"empty value not allowed, found in {what}", path)
        elif kind == "port":
            for message in attributes.port_errors((value,)):
                v.error(message, path)
        elif kind == "path" and (problem := attributes.path_template_error(what, value)):
            v.error(problem, path)
        elif kind == "path" and "{" in value:
            continue  # a valid path template ({*}, {**})
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
    accounts = source.service_accounts or source.not_service_accounts
    if accounts and (
        source.namespaces or source.not_namespaces or source.principals or source.not_principals
    ):
        v.error(
            f"cannot set serviceAccounts with namespaces or principals, found at rule {rule}", path
        )
    if action == "CUSTOM":
        _check_custom_source(v, source, path)
    for name in Source.model_fields:
        values: list[str] = getattr(source, name)
        if not values:
            continue
        alias = Source.model_fields[name].alias or name
        what = _go_name(alias)
        kind = "ip" if "ip_blocks" in name else "account" if "service_accounts" in name else ""
        _check_values(v, values, what, f"{path}.{alias}", kind)
        if "trust_domains" in name:
            for domain in values:
                if "/" in domain:
                    v.error(
                        "trust domain must not contain '/', found in "
                        f"{what}: {fields.go_quote(domain)}",
                        path,
                    )


def _check_custom_source(v: Verdict, source: Source, path: str) -> None:
    for name in _CUSTOM_UNSUPPORTED_SOURCES:
        if getattr(source, name):
            what = "From." + _go_name(Source.model_fields[name].alias or name)
            v.error(_CUSTOM_UNSUPPORTED.format(what), path)


def _check_operation(v: Verdict, operation: Operation, path: str) -> None:
    for name in Operation.model_fields:
        values: list[str] = getattr(operation, name)
        if values:
            alias = Operation.model_fields[name].alias or name
            kind = "port" if "ports" in name else "path" if "paths" in name else ""
            _check_values(v, values, _go_name(alias), f"{path}.{alias}", kind)


def _check_condition(v: Verdict, condition: Condition, action: str, path: str) -> None:
    key = condition.key
    if not key:
        v.error("`key` must not be empty", path)
        return
    if not condition.values and not condition.not_values:
        v.error(f"at least one of `values` or `notValues` must be set for key {key}", path)
    for label, values in (("value", condition.values), ("notValue", condition.not_values)):
        if values and (problem := attributes.attribute_error(key, values)):
            v.error(f"invalid `{label}` for `key` {key}: {problem}", path)
    if action == "CUSTOM" and (key in _CUSTOM_UNSUPPORTED_KEYS or key.startswith("request.auth.")):
        v.error(_CUSTOM_UNSUPPORTED.format(key), path)


def _uses_http_only(rule: Rule) -> bool:
    """Whether a rule names HTTP attributes without saying which ports it is about: on a TCP
    port such a DENY rule matches every connection."""
    operations = [to.operation for to in rule.to if to is not None and to.operation is not None]
    if any(operation.ports or operation.not_ports for operation in operations):
        return False
    sources = [item.source for item in rule.from_ if item is not None and item.source is not None]
    return (
        any(o.hosts or o.not_hosts or o.methods or o.not_methods for o in operations)
        or any(o.paths or o.not_paths for o in operations)
        or any(s.request_principals or s.not_request_principals for s in sources)
        or any(c.key.startswith(attributes.HTTP_KEY_PREFIXES) for c in rule.when)
    )
