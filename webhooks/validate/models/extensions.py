"""extensions.istio.io WasmPlugin and TrafficExtension."""

from typing import Literal

from pydantic import Field

from webhooks.validate.models.base import (
    Int32,
    LabelSelector,
    Model,
    PolicyTargetReference,
    Struct,
    UInt32,
)

Phase = Literal["UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"]
PullPolicy = Literal["UNSPECIFIED_POLICY", "IfNotPresent", "Always"]
FailStrategy = Literal["FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"]
PluginType = Literal["UNSPECIFIED_PLUGIN_TYPE", "HTTP", "NETWORK"]


class EnvVar(Model):
    name: str = ""
    value_from: Literal["INLINE", "HOST"] | None = None
    value: str = ""


class VmConfig(Model):
    env: list[EnvVar | None] = Field(default_factory=list)


class PortNumber(Model):
    number: UInt32


class TrafficSelector(Model):
    mode: Literal["UNDEFINED", "CLIENT", "SERVER", "CLIENT_AND_SERVER"] | None = None
    ports: list[PortNumber] = Field(default_factory=list)


class WasmPlugin(Model):
    """A WebAssembly filter added to the proxies it selects."""

    selector: LabelSelector | None = None
    target_ref: PolicyTargetReference | None = None
    target_refs: list[PolicyTargetReference] = Field(default_factory=list)
    url: str
    sha256: str = ""
    image_pull_policy: PullPolicy | None = None
    image_pull_secret: str | None = None
    verification_key: str = ""
    plugin_config: Struct | None = None
    plugin_name: str | None = None
    phase: Phase | None = None
    priority: Int32 | None = None
    fail_strategy: FailStrategy | None = None
    vm_config: VmConfig | None = None
    match: list[TrafficSelector | None] = Field(default_factory=list)
    type: PluginType | None = None


class WasmConfig(Model):
    url: str = ""
    sha256: str = ""
    image_pull_policy: PullPolicy | None = None
    image_pull_secret: str | None = None
    plugin_config: Struct | None = None
    plugin_name: str | None = None
    fail_strategy: FailStrategy | None = None
    vm_config: VmConfig | None = None
    type: PluginType | None = None


class LuaConfig(Model):
    inline_code: str = ""


class TrafficExtension(Model):
    """A Wasm or Lua extension added to the proxies it selects."""

    selector: LabelSelector | None = None
    target_refs: list[PolicyTargetReference] = Field(default_factory=list)
    phase: Phase | None = None
    priority: Int32 | None = None
    match: list[TrafficSelector | None] = Field(default_factory=list)
    wasm: WasmConfig | None = None
    lua: LuaConfig | None = None
