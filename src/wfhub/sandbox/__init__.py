"""Sandboxed processes for agent shell commands and the web terminal (bubblewrap)."""
