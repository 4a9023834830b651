"""argparse types for the commands' numeric and duration flags. A bad value gets argparse's
one-line error (`argument --port: not a port (1-65535): '99999'`) and exit 2, never a traceback
or, as with a plain int, a value the kernel quietly wraps (port 99999 would listen on 34463)."""

import argparse
import datetime
import math
import re

from webhooks import numbers
from webhooks.mesh import DEFAULT_REVISION


def _integer(text: str) -> int:
    value = numbers.whole_number(text.strip())
    if value is None:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
    return value


def port(text: str) -> int:
    value = _integer(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a port (1-65535): {text!r}")
    return value


def positive_int(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more: {text!r}")
    return value


_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def revision(text: str) -> str:
    """An istio.io/rev value; "" is the default revision, written "default"."""
    if not text:
        return DEFAULT_REVISION
    if not _LABEL.fullmatch(text):
        raise argparse.ArgumentTypeError(f"not a revision (a DNS label): {text!r}")
    return text


def seconds(text: str) -> float:
    """A finite number of seconds above zero: a poll interval of 0 or less would spin, and nan
    or inf would fail later, inside a background task."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds above 0: {text!r}")
    return value


def days(text: str) -> int:
    """A certificate validity in days, from 1 to 36,500 (a hundred years)."""
    value = _integer(text)
    if not 1 <= value <= 36_500:
        raise argparse.ArgumentTypeError(f"not a number of days from 1 to 36500: {text!r}")
    return value


_VALIDITY = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhd])")  # ASCII digits, as everywhere above
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


MAX_VALIDITY = datetime.timedelta(days=3650)  # the CA's: a serving certificate never outlives it


def validity(text: str) -> datetime.timedelta:
    """A certificate lifetime: `30d`, `12h`, `90m`, `45s`; above zero and at most 3650d (a
    longer one would be cut to its CA's anyway, and `now` plus a huge one overflows)."""
    match = _VALIDITY.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration like 30d, 12h, 90m or 45s: {text!r}")
    try:
        value = datetime.timedelta(**{_UNITS[match[2]]: float(match[1])})
    except OverflowError:  # past timedelta's 999,999,999 days
        raise argparse.ArgumentTypeError(f"too long a duration: {text!r}") from None
    if not value:
        raise argparse.ArgumentTypeError(f"must be longer than zero: {text!r}")
    if value > MAX_VALIDITY:
        raise argparse.ArgumentTypeError(f"too long a duration (at most 3650d): {text!r}")
    return value
