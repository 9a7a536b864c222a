"""aither: watch ML models and LLM/agent calls in production."""
