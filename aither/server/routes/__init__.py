"""HTTP routes: OTLP ingest (:mod:`.otlp`), queries (:mod:`.query`), management (:mod:`.management`)."""
