"""``LLMCall``: a prompt made of two templates, called with variables, answered as text or a model.

Templates use the seed's ``{{name}}`` syntax and are rendered by Jinja2 (a well-kept template
library; its sandbox keeps templates from reaching Python objects). Every variable a template uses
must be given: a missing one raises ``TemplateVariableError`` naming it, before anything is sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

import jinja2
import jinja2.meta
import jinja2.sandbox
from pydantic import BaseModel

from typed_llm._errors import TemplateVariableError
from typed_llm._models.messages import SystemMessage, UserMessage
from typed_llm._models.requests import ChatRequest

if TYPE_CHECKING:
    from typed_llm._typing import Client

__all__ = ["LLMCall", "TemplateVariableError"]

T = TypeVar("T", bound=BaseModel)

_ENVIRONMENT = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)


def _source(template: str | Path) -> str:
    return template.read_text(encoding="utf-8") if isinstance(template, Path) else template


class LLMCall(Generic[T]):
    """A reusable prompt: ``LLMCall(system, user, output_type=None, **model_params).call(**variables)``.

    Args:
        system_template: the system message's template (a string, or a ``Path`` to a file).
        user_template: the user message's template (a string, or a ``Path``).
        output_type: a pydantic model for structured output; None for text.
        client: the client to call (default: the registry's ``client()``).
        model_params: ``ChatRequest`` fields (``model``, ``temperature``, ``max_tokens``...);
            ``model`` defaults to the settings' model.
    """

    @overload
    def __init__(
        self: LLMCall[BaseModel],
        system_template: str | Path,
        user_template: str | Path,
        output_type: None = None,
        *,
        client: Client | None = None,
        **model_params: Any,  # noqa: ANN401  (ChatRequest's own fields, checked by it)
    ) -> None: ...

    @overload
    def __init__(
        self,
        system_template: str | Path,
        user_template: str | Path,
        output_type: type[T],
        *,
        client: Client | None = None,
        **model_params: Any,  # noqa: ANN401  (ChatRequest's own fields, checked by it)
    ) -> None: ...

    def __init__(
        self,
        system_template: str | Path,
        user_template: str | Path,
        output_type: type[T] | None = None,
        *,
        client: Client | None = None,
        **model_params: Any,
    ) -> None:
        sources = (_source(system_template), _source(user_template))
        self._templates = tuple(_ENVIRONMENT.from_string(source) for source in sources)
        self.variables: frozenset[str] = frozenset().union(
            *(jinja2.meta.find_undeclared_variables(_ENVIRONMENT.parse(source)) for source in sources)
        )
        """The variables the templates use."""
        self.output_type = output_type
        self._client = client
        self._params = model_params

    def request(self, **variables: object) -> ChatRequest:
        """The chat request the call would send.

        Raises:
            TemplateVariableError: a variable the templates use is missing.
            pydantic.ValidationError: a model parameter is invalid.
        """
        missing = tuple(sorted(self.variables - variables.keys()))
        if missing:
            raise TemplateVariableError(missing)
        system, user = (template.render(**variables) for template in self._templates)
        params = dict(self._params)
        if "model" not in params:
            from typed_llm._compat.registry import settings  # noqa: PLC0415  (settings load on first use)

            params["model"] = settings().model
        return ChatRequest.model_validate(
            {"messages": (SystemMessage(content=system), UserMessage(content=user)), **params}
        )

    def call(self, **variables: object) -> T | str:
        """Render the templates with ``variables`` and call the model: the parsed model, or the text."""
        request = self.request(**variables)
        if self._client is None:
            from typed_llm._compat.registry import client  # noqa: PLC0415  (built on first use)

            target = client()
        else:
            target = self._client
        if self.output_type is None:
            return target.complete(request).text
        return target.parse(request, self.output_type).parsed
