"""Agent core: agent files, prompt assembly, the step grammar, run loop, events, transcripts.

Entry points: `agentfile.load/save` (`AgentSpec`), `prompt.preview`, `launch.agent_run`
(an `AgentRun`: a generator of `events`), `hooks.RunHooks`. See docs/agents.md.
"""
