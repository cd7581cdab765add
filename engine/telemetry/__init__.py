"""Hardware samplers, latency metrics, profiling sessions (see the telemetry issue)."""
