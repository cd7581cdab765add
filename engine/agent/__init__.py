"""Agent file format, prompt assembly, run loop, planners (see the agent-core issue)."""
