"""Analysis of stored rows: the label join (:mod:`.label_join`), per-row scoring (:mod:`.scoring`)
and model metrics (:mod:`.metrics`)."""
