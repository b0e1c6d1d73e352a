"""Providers: credentials, endpoints, environment fallbacks, the openai client, the transport.

A provider is everything that differs between OpenAI and Azure OpenAI; the adapter that uses it is
the same for both (``_client``). ``transport`` makes the HTTP requests, ``translate`` turns foreign
exceptions into the SDK's, ``deadline`` bounds a whole attempt.
"""

from __future__ import annotations

from typed_llm._providers.azure import AzureProvider
from typed_llm._providers.openai import OpenAIProvider

__all__ = ["AzureProvider", "OpenAIProvider", "Provider"]


Provider = OpenAIProvider | AzureProvider
"""Any provider."""
