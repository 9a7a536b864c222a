"""OTLP in, rows out: reading request bodies (:mod:`.otlp`) and decoding spans (:mod:`.decode`)."""
