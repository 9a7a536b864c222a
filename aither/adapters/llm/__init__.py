"""LLM clients, instrumented in place by ``aither.wrap(client)``.

One module per SDK (``openai``, ``anthropic``, ``gemini``), each imported only when a client
of that SDK is wrapped; ``_common`` holds the span, stream, cost, PII and content machinery
they share; ``pii``, ``injection`` and ``pricing`` are the detectors and the price table.
See ``docs/llm.md``.
"""
