"""aither's benchmarks: overhead and throughput, each against a raw call and hand-written OpenTelemetry."""
