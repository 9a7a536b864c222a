"""LLM clients, instrumented in place by ``aither.wrap(client)``.

One module per SDK (``openai``, ``anthropic``, ``gemini``, ``gemini_legacy``), each imported
only when a client of that SDK is wrapped and holding only its wire format's parsing;
``_hooks`` installs the hooks and runs them from a provider's description; ``_common`` holds
the span, stream, cost, PII and content machinery they share; ``pii``, ``injection`` and
``pricing`` are the detectors and the price table.
See ``docs/llm.md``.
"""
