"""Bounded text for LLM spans: what of a prompt is scanned, what of the content is kept, masking.

:data:`SCAN_MAX_CHARS` and :data:`CONTENT_MAX_CHARS` are documented in ``docs/llm.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from . import pii

if TYPE_CHECKING:
    from ..._runtime import Runtime

SCAN_MAX_CHARS: Final = 16_384
"""Characters of the prompt (and, apart, of the completion) scanned for PII and injection."""
CONTENT_MAX_CHARS: Final = 32_768
"""Characters of text kept per captured-content attribute when ``capture_content`` is on."""
MASK_PII_ENV: Final = "AITHER_MASK_PII"
"""Set to ``true`` to mask personal data in captured content before export."""


def mask_pii_enabled(runtime: Runtime) -> bool:
    """Whether captured content is masked: the client's ``mask_pii`` setting (``AITHER_MASK_PII``),
    read from the environment once, at ``init()``."""
    return runtime.settings.mask_pii


class TextBudget:
    """Cuts captured text to a total of ``max_chars`` characters; remembers whether it cut.

    Adapters build captured messages with ``budget.text(s)`` for each text part.
    """

    __slots__ = ("left", "truncated")

    def __init__(self, max_chars: int = CONTENT_MAX_CHARS) -> None:
        self.left = max_chars
        self.truncated = False

    def text(self, value: Any) -> str:
        """``value`` as text, cut to what is left of the budget."""
        text = value if isinstance(value, str) else str(value)
        if len(text) <= self.left:
            self.left -= len(text)
            return text
        self.truncated = True
        cut = text[: max(self.left, 0)]
        self.left = 0
        return cut

    def value(self, value: Any) -> Any:
        """A JSON-like value (tool arguments, a tool result) with its strings cut to the budget."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {str(k): self.value(v) for k, v in list(value.items())[:256]}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in list(value)[:256]]
        if value is None or isinstance(value, (bool, int, float)):
            return value
        return self.text(repr(value))


def collect_texts(texts: Iterable[str | None], max_chars: int = SCAN_MAX_CHARS) -> list[str]:
    """The strings of ``texts`` until ``max_chars`` characters are reached (the last one cut)."""
    out: list[str] = []
    left = max_chars
    for text in texts:
        if not text or not isinstance(text, str):
            continue
        if len(text) >= left:
            out.append(text[:left])
            break
        out.append(text)
        left -= len(text)
    return out


class TextAccumulator:
    """Text of a streamed completion, kept up to a bound (for PII scanning and content)."""

    __slots__ = ("limit", "parts", "size")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0

    def add(self, text: str | None) -> None:
        if not text or self.size >= self.limit:
            return
        if not isinstance(text, str):
            return
        self.parts.append(text)
        self.size += len(text)

    def text(self) -> str:
        joined = "".join(self.parts)
        return joined if len(joined) <= self.limit else joined[: self.limit]


class Content:
    """Captured content, JSON-encoded (and PII-masked, when asked) on the export thread."""

    __slots__ = ("mask", "value")

    def __init__(self, value: Any, mask: bool) -> None:
        self.value = value
        self.mask = mask

    def __aither_json__(self) -> Any:
        return _masked(self.value) if self.mask else self.value


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return pii.mask(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


MessagesBuilder = Callable[[TextBudget], Any]
"""Builds captured content (GenAI JSON) with the budget's ``text``; called only when content
is captured, on the caller's thread (so it reads the request before the caller can change it)."""
