"""The Assistants-API-compatible REST and streaming API under /v1 (see docs/api.md)."""
