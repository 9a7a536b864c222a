"""What the SDK and the server agree on, in one package both import.

- :mod:`aither.schema.semconv`: every span attribute name (``aither.semconv`` re-exports it);
- :mod:`aither.schema.envelope`: the ``{sample, _meta, rest}`` envelope of sampled values, and
  its decoder;
- :mod:`aither.schema.credentials`: the credentials file ``aither server`` writes for the SDK;
- :mod:`aither.schema.providers`: the LLM provider names (``gen_ai.provider.name``);
- :mod:`aither.schema.vocabulary`: the detection vocabulary (anomaly types, severities, risk);
- :mod:`aither.schema.results` and :mod:`aither.schema.detection_results`: the JSON shapes of
  ``/api/v1``, frozen dataclasses the server answers with and the SDK reads into.

Standard library only, and nothing here imports the rest of aither: the SDK (without the
server's dependencies) and the server both sit above it.
"""

from .vocabulary import AnomalyType, DetectionMethod, RiskLevel, Severity

__all__ = ["AnomalyType", "DetectionMethod", "RiskLevel", "Severity"]
