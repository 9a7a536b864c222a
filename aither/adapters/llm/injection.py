"""A heuristic prompt-injection score: which known injection patterns a prompt matches.

Each rule has a weight; the score is ``1 - prod(1 - weight)`` over the rules matched (a rule
counts once however often it matches), so it grows with independent evidence and stays
in ``[0, 1]``. A score of :data:`THRESHOLD` or more sets ``aither.injection.detected``.
Only the user's and tools' text is scored (the system prompt is the developer's own), over
at most ``scan_max_chars`` characters, on the caller's thread. The score flags; it never
blocks a call. It is a tripwire for known phrasings, not a classifier: a paraphrase it has
no rule for scores 0.

=====================  ======  ==============================================================
rule                   weight  matches
=====================  ======  ==============================================================
ignore_instructions    0.6     "ignore / disregard / forget ... previous instructions"
reveal_system_prompt   0.5     "reveal / print / repeat ... your system prompt"
new_instructions       0.4     "new instructions:", "override your rules", "your real task is"
role_override          0.4     "you are now", "from now on you", "pretend to be", "act as DAN"
jailbreak              0.5     "jailbreak", "do anything now", "developer mode", "no restrictions"
fake_delimiter         0.5     chat-template tokens (``<|im_start|>``, ``[INST]``, ``<<SYS>>``)
                               or a line that starts with ``system:``
exfiltration           0.5     a markdown image whose URL carries a query, "send the data to
                               https://..."
secret_request         0.3     "print / reveal ... the API key / password / credentials"
encoded_payload        0.2     "decode this base64", or a base64 run of 160+ characters
=====================  ======  ==============================================================
"""

from __future__ import annotations

import re
from collections.abc import Iterable

THRESHOLD = 0.5
"""The score from which ``aither.injection.detected`` is true."""

_FILLER = r"(?:\s+(?:all|any|of|the|your|my|these|those|every|previous|prior|above|earlier))*"

# (rule, weight, triggers, pattern over lower-cased text). A rule's pattern runs only when one
# of its triggers is in the text: a trigger made of letters is looked up among the text's
# words (a set), any other in the text itself. A prompt that mentions no trigger costs one
# split of its words, never a regex scan.
RULES: tuple[tuple[str, float, tuple[str, ...], re.Pattern[str]], ...] = (
    (
        "ignore_instructions",
        0.6,
        ("ignore", "disregard", "forget", "skip", "bypass", "override", "neglect"),
        re.compile(
            r"\b(?:ignore|disregard|forget|skip|bypass|override|neglect)"
            + _FILLER
            + r"\s+(?:previous|prior|above|earlier|preceding|initial|original|system|developer|all)"
            r"\s+(?:instructions?|prompts?|rules?|directions?|guidelines?|messages?|context|commands?)"
        ),
    ),
    (
        "reveal_system_prompt",
        0.5,
        ("prompt", "instructions", "message"),
        re.compile(
            r"\b(?:reveal|show|print|repeat|output|display|leak|dump|tell\s+me|what\s+(?:is|are|was|were))"
            r"(?:\s+\w+){0,4}?\s+(?:system\s+(?:prompt|message)|(?:initial|hidden|original|secret|your)"
            r"\s+(?:instructions|prompt))"
        ),
    ),
    (
        "new_instructions",
        0.4,
        ("instruction", "instructions", "prompt", "task", "goal", "override"),
        re.compile(
            r"\b(?:new|updated|real|actual|true)\s+(?:instructions?|system\s+prompt|task|goal)\s*(?::|is\b|are\b)"
            r"|\boverride\s+(?:your|the|all|any)\s+(?:rules|instructions|guidelines|safety|restrictions)"
        ),
    ),
    (
        "role_override",
        0.4,
        ("now", "pretend", "act"),
        re.compile(
            r"\byou\s+are\s+now\b|\bfrom\s+now\s+on,?\s+you\b|\bpretend\s+(?:to\s+be|you\s+are)\b"
            r"|\bact\s+as\s+(?:an?\s+)?(?:unrestricted|unfiltered|uncensored|jailbroken|evil|dan\b)"
        ),
    ),
    (
        "jailbreak",
        0.5,
        (
            "jailbreak",
            "jailbroken",
            "jailbreaking",
            "anything",
            "mode",
            "restrictions",
            "limitations",
            "filters",
            "censorship",
            "guardrails",
        ),
        re.compile(
            r"jailbr[eo]a?k|\bdo\s+anything\s+now\b|\bdeveloper\s+mode\b|\bgod\s+mode\b"
            r"|\b(?:no|without\s+(?:any\s+)?)(?:restrictions|limitations|filters|censorship|guardrails)\b"
        ),
    ),
    (
        "fake_delimiter",
        0.5,
        ("system", "<|", "[inst]", "[/inst]", "<<sys>>", "<</sys>>"),
        re.compile(
            r"<\|(?:im_start|im_end|system|endoftext|start_header_id|eot_id)\|>|\[/?inst\]|<</?sys>>"
            r"|(?:^|\n)[ \t]*(?:#{2,}[ \t]*)?system[ \t]*:"
        ),
    ),
    (
        "exfiltration",
        0.5,
        ("send", "post", "forward", "upload", "leak", "exfiltrate", "transmit", "](http"),
        re.compile(
            r"!\[[^\]\n]{0,100}\]\(https?://[^)\s]{0,300}\?[^)\s]{0,300}="
            r"|\b(?:send|post|forward|upload|leak|exfiltrate|transmit)\s+(?:it|this|them|everything|all\s+\w+"
            r"|the\s+(?:data|conversation|chat|history|secrets?|passwords?|keys?|tokens?))\s+to\s+(?:https?://|\S+@)"
        ),
    ),
    (
        "secret_request",
        0.3,
        ("key", "keys", "password", "passwords", "token", "tokens", "credentials", "api_key"),
        re.compile(
            r"\b(?:reveal|print|show|give\s+me|tell\s+me|output|send|leak)(?:\s+\w+){0,3}?\s+"
            r"(?:api[\s_-]?keys?|passwords?|secret\s+keys?|access\s+tokens?|credentials)"
        ),
    ),
    (
        "encoded_payload",
        0.2,
        ("base64",),
        re.compile(r"\b(?:decode|execute|follow|run)\s+(?:\w+\s+){0,3}?base64"),
    ),
)

_BASE64_RUN = re.compile(r"[a-z0-9+/]{160,}={0,2}")
# Punctuation becomes a space before the text is split into words; '+', '/' and '=' stay,
# so a base64 run stays one token.
_PUNCTUATION = str.maketrans(dict.fromkeys("!\"#$%&'()*,-.:;<>?@[\\]^`{|}~_", " "))


def score(texts: Iterable[str], max_chars: int) -> tuple[float, list[str]]:
    """The injection score of ``texts`` and the rules matched, in :data:`RULES` order.

    At most ``max_chars`` characters are scanned, in all.
    """
    parts: list[str] = []
    budget = max_chars
    for text in texts:
        if budget <= 0:
            break
        if len(text) > budget:
            text = text[:budget]
        budget -= len(text)
        parts.append(text)
    if not parts:
        return 0.0, []
    lowered = "\n".join(parts).lower()
    tokens = lowered.translate(_PUNCTUATION).split()
    words = set(tokens)
    matched: list[str] = []
    keep = 1.0
    for name, weight, triggers, pattern in RULES:
        triggered = any((word in words) if word.isalpha() else (word in lowered) for word in triggers)
        hit = triggered and pattern.search(lowered) is not None
        if not hit and name == "encoded_payload":
            hit = max(map(len, tokens), default=0) >= 160 and _BASE64_RUN.search(lowered) is not None
        if hit:
            matched.append(name)
            keep *= 1.0 - weight
    return (round(1.0 - keep, 4), matched) if matched else (0.0, [])
