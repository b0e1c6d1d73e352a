"""The public door: ``typed_llm.__all__`` lists exactly what the package exports, sorted."""

from __future__ import annotations

import importlib.metadata

import typed_llm
from typed_llm._compat import registry


def test_all_matches_public_names() -> None:
    """Every public attribute is in __all__, every name in __all__ exists, and __all__ is sorted."""
    public = {
        name
        for name, value in vars(typed_llm).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "typed_llm").startswith("typed_llm")
        and not isinstance(value, type(typed_llm))
    }
    assert set(typed_llm.__all__) >= public
    assert all(hasattr(typed_llm, name) for name in typed_llm.__all__)
    assert list(typed_llm.__all__) == sorted(typed_llm.__all__, key=lambda n: (not n.isupper(), n))


def test_the_version_is_the_distributions() -> None:
    """``typed_llm.__version__`` is the installed distribution's version."""
    assert typed_llm.__version__ == importlib.metadata.version("typed-llm")


def test_the_seed_registry_lives_in_openai_utils_only() -> None:
    """The seed's registry functions are not top-level names beside the ``Client`` protocol."""
    from typed_llm import openai_utils  # noqa: PLC0415  (the module under test)

    for name in ("client", "register_client", "force_api_type", "force_api_cache"):
        assert not hasattr(typed_llm, name) or isinstance(getattr(typed_llm, name), type(typed_llm))
        assert callable(getattr(openai_utils, name))
    assert openai_utils.typed_client is registry.client


def test_every_exception_class_is_in_the_one_tree() -> None:
    """Every exception the package exports is a TypedLLMError, defined in the ``_errors`` package
    (``base``, ``usage``, ``replay`` or its ``__init__``)."""
    exceptions = [v for v in vars(typed_llm).values() if isinstance(v, type) and issubclass(v, BaseException)]
    assert len(exceptions) > 25
    for cls in exceptions:
        assert issubclass(cls, typed_llm.TypedLLMError | Warning), cls
        assert cls.__module__.startswith("typed_llm._errors"), cls
