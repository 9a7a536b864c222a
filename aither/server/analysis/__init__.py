"""The server's domain logic, pure functions below storage: the label join's rule
(:mod:`.label_join`), per-row scoring (:mod:`.scoring`) and model quality from counts
(:mod:`.quality`).

Nothing here imports storage, routes, ingest or a database library: storage
(:mod:`aither.server.storage.joins`, :mod:`aither.server.storage.metrics`) runs the SQL and
calls down into these, and ingest calls :mod:`.scoring` on each decoded span
(``tests/test_layering.py`` holds the contract).
"""
