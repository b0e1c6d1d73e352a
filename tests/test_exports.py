"""The public door: ``typed_llm.__all__`` lists exactly what the package exports, sorted."""

from __future__ import annotations

import typed_llm


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
