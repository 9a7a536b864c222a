"""LLM clients against local servers that speak each provider's wire format (``wire.py``)."""
