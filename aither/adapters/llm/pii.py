"""Personal data in prompts and completions: find it, count it, mask it.

The detectors are regular expressions with a validation step, tuned to flag rather than to
miss, and never to block a call:

==============  ==========================================================================
type            what counts
==============  ==========================================================================
``email``       ``local@domain.tld``; the local part at most 64 characters
``phone``       ``+`` and 8 to 15 digits (E.164, separators allowed), or a North American
                number ``(415) 555-0132`` / ``415-555-0132`` / ``415.555.0132``
``credit_card`` 13 to 19 digits, in groups separated by single spaces or dashes, that pass
                the Luhn check (a run that fails it is not counted as anything)
``ssn``         ``AAA-GG-SSSS`` with the dashes, area not 000, 666 or 9xx, group not 00,
                serial not 0000 (SSN-like: the format, not a registry check)
``ipv4``        four dotted decimals 0-255 (``10.0.0.1``; versions like ``1.2.3.4`` count too)
``ipv6``        what :class:`ipaddress.IPv6Address` accepts, with at least two hex groups
==============  ==========================================================================

Digits inside an email address are not counted again as a phone number. Everything runs
on the caller's thread over at most ``scan_max_chars`` characters per direction (see
``docs/llm.md``); masking of captured content runs on the export thread.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

PII_TYPES: tuple[str, ...] = ("email", "phone", "credit_card", "ssn", "ipv4", "ipv6")

MASKS: dict[str, str] = {
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "credit_card": "[CREDIT_CARD]",
    "ssn": "[SSN]",
    "ipv4": "[IP_ADDRESS]",
    "ipv6": "[IP_ADDRESS]",
}
"""What a masked match is replaced with."""

# The local part is bounded and must start at a token boundary, so a long run of word
# characters costs O(64) per start, never O(n^2).
_EMAIL = re.compile(
    r"(?<![\w.%+\-])[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![\w\-])"
)

# Each alternative starts with a digit, '+' or '(' and is anchored against starting inside
# a longer number, so a position that cannot start a match fails on its first character.
_NUMBERS = re.compile(
    r"(?P<ssn>(?<![\w\-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w\-]))"
    r"|(?P<ipv4>(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?!\.?\d)(?![\w])(?!\.\w))"
    r"|(?P<credit_card>(?<![\w+\-])\d(?:[ \-]?\d){12,18}(?![\w\-]))"
    r"|(?P<phone>(?<![\w+])\+\d(?:[ .\-]?\(?\d\)?){7,14}(?![\w])"
    r"|(?<![\w(\-])(?:\(\d{3}\)[ ]?|\d{3}[ .\-])\d{3}[ .\-]\d{4}(?![\w\-]))"
)

_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|:|(?:\d{1,3}\.){3}\d{1,3})(?![\w:])")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a string of digits (card numbers)."""
    total = 0
    parity = len(digits) % 2
    for i, char in enumerate(digits):
        d = ord(char) - 48
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _phone_ok(text: str) -> bool:
    digits = sum(c.isdigit() for c in text)
    if text.startswith("+"):
        return 8 <= digits <= 15
    return digits == 10


def find(text: str) -> list[tuple[int, int, str]]:
    """Every match in ``text``: ``(start, end, type)``, in order, not overlapping."""
    found: list[tuple[int, int, str]] = []
    numeric_text = text
    if "@" in text:
        emails = [(m.start(), m.end(), "email") for m in _EMAIL.finditer(text)]
        if emails:
            found.extend(emails)
            # Blank the addresses out (same length, so offsets hold) before looking for numbers.
            parts: list[str] = []
            last = 0
            for start, end, _ in emails:
                parts.append(text[last:start])
                parts.append(" " * (end - start))
                last = end
            parts.append(text[last:])
            numeric_text = "".join(parts)
    for m in _NUMBERS.finditer(numeric_text):
        kind = m.lastgroup
        value = m.group()
        if kind == "credit_card":
            digits = value.replace(" ", "").replace("-", "")
            if not luhn_valid(digits):
                continue
        elif kind == "phone" and not _phone_ok(value):
            continue
        found.append((m.start(), m.end(), kind or "phone"))
    if numeric_text.count(":") >= 2:
        for m in _IPV6.finditer(numeric_text):
            value = m.group()
            if sum(1 for part in value.split(":") if part) < 2:
                continue
            try:
                ipaddress.IPv6Address(value)
            except ValueError:
                continue
            found.append((m.start(), m.end(), "ipv6"))
    found.sort()
    return found


def count(texts: Iterable[str], max_chars: int) -> tuple[dict[str, int], bool]:
    """Matches per type over ``texts``, scanning at most ``max_chars`` characters in all.

    Returns the counts (only types with a match) and whether the scan stopped at the limit.
    """
    counts: dict[str, int] = {}
    budget = max_chars
    truncated = False
    for text in texts:
        if budget <= 0:
            truncated = True
            break
        if len(text) > budget:
            text = text[:budget]
            truncated = True
        budget -= len(text)
        for _, _, kind in find(text):
            counts[kind] = counts.get(kind, 0) + 1
    return counts, truncated


def mask(text: str) -> str:
    """``text`` with every match replaced by its type's mask (``[EMAIL]``...)."""
    matches = find(text)
    if not matches:
        return text
    parts: list[str] = []
    last = 0
    for start, end, kind in matches:
        if start < last:
            continue
        parts.append(text[last:start])
        parts.append(MASKS[kind])
        last = end
    parts.append(text[last:])
    return "".join(parts)
