"""Task runs: creating them, their events (live), their executor."""
