"""The model base class and the small types every Istio API shares."""

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from webhooks.validate import fields


class Model(BaseModel):
    """Strict like the CRD schema: no unknown fields, no type coercion, camelCase keys."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
        cache_strings="keys",
    )


def _check_duration(text: str) -> str:
    if fields.parse_duration(text) is None:
        raise PydanticCustomError("duration", fields.bad_duration(text))
    return text


Duration = Annotated[str, AfterValidator(_check_duration)]
"""A Go duration string ("10ms", "1m30s"); Istio's decoder refuses anything else."""

UInt32 = Annotated[int, Field(ge=0, le=4294967295)]
UInt64 = Annotated[int, Field(ge=0, le=18446744073709551615)]
Int32 = Annotated[int, Field(ge=-2147483648, le=2147483647)]
NonEmpty = Annotated[str, Field(min_length=1)]
Struct = dict[str, Any]
"""google.protobuf.Struct/Value: free-form, kept as is (x-kubernetes-preserve-unknown-fields)."""


class Percent(Model):
    value: float = 0.0


class PortSelector(Model):
    number: UInt32 = 0


class WorkloadSelector(Model):
    """networking.istio.io's selector (`labels`)."""

    labels: dict[str, str] = Field(default_factory=dict)


class LabelSelector(Model):
    """type.istio.io's WorkloadSelector (`matchLabels`)."""

    match_labels: dict[str, str] = Field(default_factory=dict)


class PolicyTargetReference(Model):
    group: Annotated[
        str,
        Field(
            max_length=253,
            pattern=r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
        ),
    ] = ""
    kind: Annotated[
        str, Field(min_length=1, max_length=63, pattern=r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")
    ]
    name: Annotated[str, Field(min_length=1, max_length=253)]
    namespace: str = ""
