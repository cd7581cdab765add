"""Tool registry, built-in tools, command tools, MCP client (see the agent-core issue)."""
