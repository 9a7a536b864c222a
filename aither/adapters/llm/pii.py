"""Personal data in prompts and completions: find it, count it, mask it.

The detectors are regular expressions with a validation step, tuned to flag rather than to
miss, and never to block a call:

==============  ==========================================================================
type            what counts
==============  ==========================================================================
``email``       ``local@domain.tld``; the local part at most 64 characters; not
                ``icon@2x.png`` (an image file name) nor ``git@github.com:org/repo`` (an
                SSH remote).
``phone``       ``+`` and 8 to 15 digits (E.164, separators allowed), or a North American
                number ``(415) 555-0132`` / ``415-555-0132`` / ``415.555.0132`` /
                ``415 555 0132``, with an optional leading ``1-``. Ten bare digits are not
                a phone number (they are as often an order or account number).
``credit_card`` 13 to 19 digits starting with 2 to 6 (the card networks' ranges), bare or
                in groups separated by single spaces or dashes, that pass the Luhn check;
                a run that fails the check is not counted as anything
``ssn``         ``AAA-GG-SSSS`` with the dashes, area not 000, 666 or 9xx, group not 00,
                serial not 0000 (SSN-like: the format, not a registry check)
``ipv4``        four dotted decimals 0-255 without leading zeros (``10.0.0.1``). A
                four-part version number (``1.2.3.4``) looks the same and counts too,
                unless a word says what it is: ``v1.2.3.4``, ``version 1.2.3.4``,
                ``build 1.2.3.4`` do not.
``ipv6``        what :class:`ipaddress.IPv6Address` accepts, standing alone (not inside a
                word), with a digit, and either three or more colons (``2001:db8::1``,
                ``::ffff:10.0.0.1``) or a group of three or more hex digits (``fe80::1``),
                or exactly ``::1``. So ``a[1::2]`` (a Python slice) and ``std::map`` are not.
==============  ==========================================================================

Digits inside an email address are not counted again as a phone number; an IPv4 address
inside an IPv6 one (``::ffff:10.0.0.1``) counts once, as IPv6.

**Cost.** Everything is linear in the text: each pattern either starts with a character a
scan finds cheaply and is bounded in length (no nested unbounded repetition, so no
catastrophic backtracking), or runs only inside a bounded window that a linear pre-scan
found. ``count`` reads at most ``max_chars`` characters (the adapters pass ``SCAN_MAX_CHARS``
and call it, and ``mask`` over captured content, on the export thread). Thread-safe.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from aither.schema.semconv import PII_TYPES

__all__ = ["MASKS", "PII_TYPES", "Scan", "count", "find", "luhn_valid", "mask", "scan"]

MASKS: dict[str, str] = {
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "credit_card": "[CREDIT_CARD]",
    "ssn": "[SSN]",
    "ipv4": "[IP_ADDRESS]",
    "ipv6": "[IP_ADDRESS]",
}
"""What a masked match is replaced with."""

# Tried once per '@', anchored where the local part must start (see _emails): the local part
# is bounded, each domain label is bounded and ends at a '.', so one attempt is O(window).
_EMAIL = re.compile(
    r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![\w\-])"
)
_EMAIL_LOCAL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")
_EMAIL_WINDOW = 320
# "icon@2x.png" names an image at double resolution; no such top-level domains exist.
_FILE_SUFFIXES = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "avif", "heic"})

# Python's regex engine scans fastest for a pattern that starts with a plain character set,
# so a cheap pattern finds the runs of digits and separators first (one pass, each character
# consumed once), and the exact patterns below run only inside those runs. Every alternative
# there is bounded in length (at most 37 characters) and anchored by a look-behind, so each
# position of a run costs a bounded number of steps.
_NUMERIC_RUN = re.compile(r"[0-9+(][0-9 ().+\-]{6,}")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_NUMBERS = re.compile(
    r"(?P<ssn>(?<![\w\-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w\-]))"
    rf"|(?P<ipv4>(?<![\w.])(?:{_OCTET}\.){{3}}{_OCTET}(?!\w)(?!\.\w))"
    r"|(?P<credit_card>(?<![\w+\-])[2-6](?:[ \-]?\d){12,18}(?![\w\-]))"
    r"|(?P<phone>(?<![\w+])\+\d(?:[ .\-]?\(?\d\)?){7,14}(?!\w)"
    r"|(?<![\w(\-+.])(?:1[ .\-]?)?(?:\(\d{3}\)[ ]?|\d{3}[ .\-])\d{3}[ .\-]\d{4}(?![\w\-]))"
)

# "version 4.1.0.2" is four dotted numbers too; the word before it says what it is.
_VERSION_BEFORE = re.compile(r"(?i)\b(?:version|release|build|firmware|ver\.?|v\.)[ \t:=]*$")

# A run of hex digits, colons and dots holding two colons: every IPv6 address is one. The
# look-behind makes each run start one attempt, so the scan is linear; runs longer than any
# address are skipped unparsed.
_IPV6_RUN = re.compile(r"(?<![0-9A-Fa-f:.])[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*")
_IPV6_MAX_LEN = 45


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
    return digits == 10 or (digits == 11 and text.startswith("1"))


def _valid(kind: str, value: str, text: str, start: int) -> bool:
    """The checks a pattern cannot make: Luhn, the digit count, a version number's word."""
    if kind == "credit_card":
        return luhn_valid(value.replace(" ", "").replace("-", ""))
    if kind == "phone":
        return _phone_ok(value)
    if kind == "ipv4":
        return _VERSION_BEFORE.search(text, max(0, start - 16), start) is None
    return True


def _emails(text: str) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    n = len(text)
    done = 0
    at = text.find("@")
    while at != -1:
        # The local part is the run of local-part characters before the '@', and it must
        # start at a word boundary: so the address can only start where that run starts.
        start = at
        lowest = max(done, at - 64)
        while start > lowest and text[start - 1] in _EMAIL_LOCAL:
            start -= 1
        before = text[start - 1] if start > 0 else " "
        m: re.Match[str] | None = None
        if start < at and before not in _EMAIL_LOCAL and not before.isalnum() and before != "_":
            m = _EMAIL.match(text, start, min(n, at + _EMAIL_WINDOW))
        # "git@github.com:org/repo" is an SSH remote: a user "git" and a path right after a ':'.
        ssh_remote = (
            m is not None
            and at - start == 3
            and text[start:at] == "git"
            and text[m.end() : m.end() + 1] == ":"
            and not text[m.end() + 1 : m.end() + 2].isspace()
            and m.end() + 1 < n
        )
        if m is not None and not ssh_remote and m.group().rpartition(".")[2].lower() not in _FILE_SUFFIXES:
            found.append((m.start(), m.end(), "email"))
            done = m.end()
        else:
            done = at + 1
        at = text.find("@", done)
    return found


def _blank(text: str, spans: list[tuple[int, int, str]]) -> str:
    """``text`` with the spans replaced by spaces (same length, so offsets hold)."""
    parts: list[str] = []
    last = 0
    for start, end, _ in spans:
        parts.append(text[last:start])
        parts.append(" " * (end - start))
        last = end
    parts.append(text[last:])
    return "".join(parts)


def _ipv6_ok(value: str) -> bool:
    if len(value) > _IPV6_MAX_LEN or not any(c.isdigit() for c in value):
        return False
    colons = value.count(":")
    if colons < 3 and value != "::1" and max(map(len, value.split(":"))) < 3:
        return False  # "1::2" is a slice, not an address
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def _ipv6(text: str) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    n = len(text)
    for run in _IPV6_RUN.finditer(text):
        start, end = run.span()
        if end - start > _IPV6_MAX_LEN + 2:
            continue
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
            continue
        # A sentence may end right after an address ("ping ::1." or "fe80::1: down").
        while end > start and text[end - 1] in ".:" and not _ipv6_ok(text[start:end]):
            end -= 1
        if end < n and (text[end].isalnum() or text[end] == "_"):
            continue
        if _ipv6_ok(text[start:end]):
            found.append((start, end, "ipv6"))
    return found


def find(text: str) -> list[tuple[int, int, str]]:
    """Every match in ``text``: ``(start, end, type)``, in order, not overlapping."""
    found: list[tuple[int, int, str]] = []
    if "@" in text:
        found = _emails(text)
        if found:
            # Digits inside an address are not a phone number too.
            text = _blank(text, found)
    n = len(text)
    for run in _NUMERIC_RUN.finditer(text):
        # One character past the run, so the patterns' look-aheads see what follows it.
        for m in _NUMBERS.finditer(text, run.start(), min(n, run.end() + 1)):
            kind = m.lastgroup or "phone"
            if _valid(kind, m.group(), text, m.start()):
                found.append((m.start(), m.end(), kind))
    if text.count(":") >= 2:
        found.extend(_ipv6(text))
    found.sort()
    # An IPv6 address may end in dotted IPv4 (::ffff:10.0.0.1): keep only the outer match.
    kept: list[tuple[int, int, str]] = []
    for match in found:
        if kept and match[0] < kept[-1][1]:
            if match[1] - match[0] > kept[-1][1] - kept[-1][0]:
                kept[-1] = match
            continue
        kept.append(match)
    return kept


@dataclass(frozen=True)
class Scan:
    """What :func:`scan` found."""

    counts: dict[str, int]
    """Matches per type; only types with a match."""
    truncated: bool
    """True when the texts held more than ``max_chars`` characters and only the first were scanned."""
    scanned: int
    """Characters scanned."""


def scan(texts: Iterable[str], max_chars: int) -> Scan:
    """Count the matches per type over ``texts``, scanning at most ``max_chars`` characters in all.

    Linear in the characters scanned; thread-safe.

    Example:
        >>> scan(["mail ada@example.com or call +44 20 7946 0958"], max_chars=16_384)
        Scan(counts={'email': 1, 'phone': 1}, truncated=False, scanned=45)
    """
    counts: dict[str, int] = {}
    budget = max_chars
    truncated = False
    for text in texts:
        if budget <= 0:
            if text:
                truncated = True
                break
            continue
        if len(text) > budget:
            text = text[:budget]
            truncated = True
        budget -= len(text)
        for _, _, kind in find(text):
            counts[kind] = counts.get(kind, 0) + 1
    return Scan(counts, truncated, max_chars - budget)


def count(texts: Iterable[str], max_chars: int) -> tuple[dict[str, int], bool]:
    """:func:`scan`'s counts and whether it stopped at ``max_chars``.

    Example:
        >>> count(["card 4111 1111 1111 1111"], max_chars=16_384)
        ({'credit_card': 1}, False)
    """
    result = scan(texts, max_chars)
    return result.counts, result.truncated


def mask(text: str) -> str:
    """``text`` with every match replaced by its type's mask (``[EMAIL]``...).

    Example:
        >>> mask("card 4111 1111 1111 1111, ssn 123-45-6789")
        'card [CREDIT_CARD], ssn [SSN]'
    """
    matches = find(text)
    if not matches:
        return text
    parts: list[str] = []
    last = 0
    for start, end, kind in matches:
        parts.append(text[last:start])
        parts.append(MASKS[kind])
        last = end
    parts.append(text[last:])
    return "".join(parts)
