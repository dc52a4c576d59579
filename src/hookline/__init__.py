"""hookline: a self-hosted webhook platform, wire-compatible with Qlik Cloud's Webhooks API."""

__version__ = "0.1.0"
