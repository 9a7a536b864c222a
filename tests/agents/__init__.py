"""Agent tracking: spans, events, tracked functions and tools together, as one trace."""
