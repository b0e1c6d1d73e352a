"""TinyTroupe's ``openai_utils``, typed: its names, its classes, its return values, this SDK underneath.

Code written for the seed runs with one change, its import line::

    from typed_llm import openai_utils

    client = openai_utils.client()
    message = client.send_message(current_messages=[{"role": "user", "content": "Hi"}], max_tokens=50)
    message["content"]                      # the seed returned the message as a dict
    openai_utils.get_embedding("some text")  # a list of floats

The seed's ``OpenAIClient`` and ``AzureClient`` are here with their methods and hooks
(``send_message``, ``get_embedding``, ``set_api_cache``, ``_setup_from_config``, ``_raw_model_call``,
``_raw_model_response_extractor``...), so a subclass written for the seed works; their
``self.client`` is a typed client (``typed_llm.OpenAIClient``), not the openai package's.

One deliberate difference: where the seed returned ``None`` after a failure (a bad request, or
retries running out), the facade raises the SDK's typed error (``InvalidRequestError`` for a bad
parameter, ``BadRequestError``, ``RetriesExhaustedError``...). A ``None`` hides why a call failed
and is easy to pass on unnoticed; code that tested for ``None`` should catch
``typed_llm.TypedLLMError`` instead.
"""

from __future__ import annotations

from typing import cast

from typed_llm._compat import registry as _registry
from typed_llm._compat.llmcall import LLMCall
from typed_llm._compat.seed_client import AzureClient, OpenAIClient, SeedClient
from typed_llm._compat.seed_params import InvalidRequestError
from typed_llm._errors import UnknownAPITypeError

__all__ = [
    "AzureClient",
    "InvalidRequestError",
    "LLMCall",
    "OpenAIClient",
    "SeedClient",
    "UnknownAPITypeError",
    "client",
    "close",
    "force_api_cache",
    "force_api_type",
    "get_embedding",
    "register_client",
    "typed_client",
]

force_api_type = _registry.force_api_type
force_api_cache = _registry.force_api_cache
register_client = _registry.register_client
typed_client = _registry.client
"""The typed ``Client`` of the configured API type (``client()`` gives it the seed's methods)."""

close = _registry.close
"""Close the clients the facade built (``client()``'s and its per-call ones); later calls build anew.

The default ``client()`` of an API type stays the same object (as the seed kept it): its
connections are closed, and its next call opens new ones."""


def client() -> SeedClient:
    """The client for the configured API type, with the seed's methods (the same object each time).

    As in the seed, the default client of an API type is one ``OpenAIClient`` (``AzureClient``)
    kept for good: ``force_api_type`` picks among them, ``force_api_cache`` changes them in place
    (a reference kept from before takes the new setting on its next call). A seed-style client
    that was registered is returned as it is; a typed one is wrapped in a ``SeedClient`` (one per
    typed client, the same object while it stays registered).
    """
    # One lock for the registry and its wrappers: a registration in another thread between finding
    # the typed client and wrapping it would leave a wrapper around a retired client.
    with _registry._lock:  # noqa: SLF001
        default = _registry.default_in_use()
        found = _registry.registered() if default is None else default
        if default is None and not callable(getattr(found, "send_message", None)):
            typed = _registry.client()
            known = _registry.wrappers.get(id(typed))
            if known is None or known[0] is not typed:
                known = (typed, SeedClient(typed))
                _registry.wrappers[id(typed)] = known
            found = known[1]
    if default is not None:  # built now, as the seed built it at import: a missing key is said here
        default._typed()  # noqa: SLF001  (outside the registry's lock: the client takes its own first)
    return cast("SeedClient", found)  # a seed-style client of the user's own is duck-typed, as in the seed


def get_embedding(text: str, model: str | None = None) -> list[float]:
    """The embedding of ``text`` from the configured client, as a list of floats."""
    return client().get_embedding(text, model)
