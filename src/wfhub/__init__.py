"""wfhub: a self-hosted Workflow Hub for AI coding agents on local LLMs."""

__version__ = "0.1.0"
