"""Whole numbers read from text that users wrote: flags, annotations, env, mesh config.

Two traps are avoided in one place. str.isdigit() also accepts "²" and "٣", which int() refuses
or reads as another number; and Python refuses int() of more than 4,300 digits, so a long run of
digits in a pod or a resource would otherwise raise where a refusal with a message is due.
"""

SATURATED = 2**64  # above every limit checked here: uint64's largest value is 2**64 - 1


def whole_number(text: str) -> int | None:
    """`text` as a whole number if it is ASCII decimal digits, else None. A number past 2**64
    reads as SATURATED, so comparing it with any limit still says it is too large."""
    if not (text.isascii() and text.isdigit()):
        return None
    significant = text.lstrip("0")
    if len(significant) > len(str(SATURATED)):
        return SATURATED
    return min(int(significant or "0"), SATURATED)
