"""Agent engines that run in their own virtualenv and process (Aider)."""
