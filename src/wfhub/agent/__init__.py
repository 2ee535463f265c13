"""The coding agent: a LangGraph tool loop over a run's worktree, talking to the gateway."""
