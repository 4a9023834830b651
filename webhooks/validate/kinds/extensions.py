"""WasmPlugin and TrafficExtension."""

import re
from urllib.parse import urlsplit

from webhooks.validate.kinds.common import check_policy_target
from webhooks.validate.kinds.meta import Meta
from webhooks.validate.models.extensions import (
    TrafficExtension,
    TrafficSelector,
    VmConfig,
    WasmConfig,
    WasmPlugin,
)
from webhooks.validate.verdict import Verdict

_SHA256 = re.compile(r"^[a-f0-9]{64}$")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SCHEMES = frozenset({"", "file", "http", "https", "oci"})
_LUA_MAX = 64 * 1024


def validate_wasm(spec: WasmPlugin, meta: Meta) -> Verdict:
    v = Verdict()
    check_policy_target(v, spec.selector, spec.target_ref, spec.target_refs)
    _check_code(v, spec, "spec")
    _check_match(v, spec.match)
    return v


def validate_traffic_extension(spec: TrafficExtension, meta: Meta) -> Verdict:
    v = Verdict()
    check_policy_target(v, spec.selector, None, spec.target_refs)
    if (spec.wasm is None) == (spec.lua is None):
        v.error("exactly one of wasm or lua must be set", "spec")
    if spec.wasm is not None:
        _check_code(v, spec.wasm, "spec.wasm")
    if spec.lua is not None:
        if not spec.lua.inline_code:
            v.error("lua.inlineCode cannot be empty", "spec.lua.inlineCode")
        elif len(spec.lua.inline_code.encode()) > _LUA_MAX:
            v.error("lua.inlineCode exceeds maximum size of 64KB", "spec.lua.inlineCode")
    _check_match(v, spec.match)
    return v


def _check_code(v: Verdict, code: WasmPlugin | WasmConfig, path: str) -> None:
    if not code.url:
        v.error("url field needs to be set", f"{path}.url")
    else:
        try:
            if _BAD_ESCAPE.search(code.url):
                raise ValueError(code.url)
            scheme = urlsplit(code.url).scheme
        except ValueError:
            v.error(f"failed to parse url: {code.url}", f"{path}.url")
        else:
            if scheme not in _SCHEMES:
                v.error(f"url contains unsupported scheme: {scheme}", f"{path}.url")
    if code.sha256:
        if len(code.sha256) != 64:
            v.error("sha256 field must be 64 characters long", f"{path}.sha256")
        elif not _SHA256.match(code.sha256):
            v.error("sha256 field must match [a-f0-9]{64} pattern", f"{path}.sha256")
    if code.image_pull_secret is not None:
        if code.image_pull_secret == "":
            v.error("imagePullSecret field must not be empty", f"{path}.imagePullSecret")
        elif len(code.image_pull_secret) > 253:
            v.error("imagePullSecret field must be less than 253 characters long", path)
    if code.plugin_name is not None:
        if code.plugin_name == "":
            v.error("pluginName field must not be empty", f"{path}.pluginName")
        elif len(code.plugin_name) > 255:
            v.error("pluginName field must be less than 255 characters long", path)
    if code.vm_config is not None:
        _check_vm_config(v, code.vm_config, f"{path}.vmConfig")


def _check_vm_config(v: Verdict, config: VmConfig, path: str) -> None:
    names: set[str] = set()
    for index, env in enumerate(config.env):
        where = f"{path}.env[{index}]"
        if env is None or not env.name:
            v.error("spec.vmConfig.env invalid", where)
            return
        if len(env.name) > 255:
            v.error("env.name field must be less than 255 characters long", where)
            return
        if env.name in names:
            v.error("duplicate env", where)
            return
        names.add(env.name)
        if env.value and (env.value_from or "INLINE") != "INLINE":
            v.error("value may only be set when valueFrom is INLINE", where)
            return


def _check_match(v: Verdict, matches: list[TrafficSelector | None]) -> None:
    for index, match in enumerate(matches):
        if match is None:
            v.error(f"spec.Match[{index}] is nil", f"spec.match[{index}]")
            return
        for position, port in enumerate(match.ports):
            if not 1 <= port.number <= 65535:
                v.error(
                    f"spec.Match[{index}].Ports[{position}] is out of range: {port.number}",
                    f"spec.match[{index}].ports[{position}]",
                )
                return
