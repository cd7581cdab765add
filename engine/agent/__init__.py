"""Agent core: agent files, prompt assembly, the step grammar, run loop, events, transcripts.

Public entry points: `agentfile.load/save`, `AgentSpec`, `prompt.preview`, `AgentRun`
(a generator of `events`), `RunHooks`, `session.open_agent` (everything wired for a file).
"""
