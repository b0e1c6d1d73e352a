"""``LLMCall``: a prompt made of two templates, called with variables, answered as text or a model.

Templates use the seed's ``{{name}}`` syntax and are rendered by Jinja2 (a well-kept template
library; its sandbox keeps templates from reaching Python objects). Every variable a template uses
must be given: a missing one raises ``TemplateVariableError`` naming it, before anything is sent.
Jinja2 is imported when the first ``LLMCall`` is built, not with the package (it costs tens of
milliseconds that code without templates should not pay).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from pydantic import BaseModel

from typed_llm._compat.seed_params import InvalidRequestError, validated
from typed_llm._errors import TemplateVariableError
from typed_llm._models.messages import SystemMessage, UserMessage
from typed_llm._models.requests import ChatRequest

if TYPE_CHECKING:
    import jinja2.sandbox

    from typed_llm._typing import Client

__all__ = ["LLMCall", "TemplateVariableError"]

T = TypeVar("T", bound=BaseModel)


@functools.cache
def _environment() -> jinja2.sandbox.SandboxedEnvironment:
    import jinja2  # noqa: PLC0415  (imported on first use: see the module's docstring)
    import jinja2.sandbox  # noqa: PLC0415

    return jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)


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
        import jinja2  # noqa: PLC0415  (imported on first use: see the module's docstring)
        import jinja2.meta  # noqa: PLC0415

        environment = _environment()
        sources = (_source(system_template), _source(user_template))
        try:
            self._templates = tuple(environment.from_string(source) for source in sources)
            parsed = [environment.parse(source) for source in sources]
        except jinja2.TemplateSyntaxError as exc:
            raise InvalidRequestError(
                f"invalid LLMCall template: {exc.message} (line {exc.lineno})",
                problems=(("template", str(exc.message)),),
            ) from exc
        self.variables: frozenset[str] = frozenset().union(
            *(jinja2.meta.find_undeclared_variables(tree) for tree in parsed)
        )
        """The variables the templates use."""
        self.output_type = output_type
        self._client = client
        self._params = model_params

    def request(self, **variables: object) -> ChatRequest:
        """The chat request the call would send.

        Raises:
            TemplateVariableError: a variable the templates use is missing.
            InvalidRequestError: a model parameter is invalid (a ``TypedLLMError``, naming it).
        """
        missing = tuple(sorted(self.variables - variables.keys()))
        if missing:
            raise TemplateVariableError(missing)
        system, user = (template.render(**variables) for template in self._templates)
        params = dict(self._params)
        if "model" not in params:
            from typed_llm._compat.registry import settings  # noqa: PLC0415  (settings load on first use)

            params["model"] = settings().model
        fields = {"messages": (SystemMessage(content=system), UserMessage(content=user)), **params}
        return validated("LLMCall parameters", lambda: ChatRequest.model_validate(fields))

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
