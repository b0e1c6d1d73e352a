"""Token counts of a Responses API request's input, and the pre-flight context-window check.

The Responses API renders its input as chat renders messages (measured: a plain user message
costs what the chat formula says, on recorded gpt-5.5 traffic), so the count reuses
``_tokens``'s formula and its published or fitted estimates, item by item:

- ``instructions``: a developer message first;
- an input message (``user``, ``system``, ``developer``, ``assistant``): 3 tokens, the role, the
  text of its ``input_text`` parts; an ``input_image`` at its ``low`` price (85, an estimate);
  an ``input_file`` is not counted (no published price), which makes the count an estimate;
- an output item sent back: a message's text and refusals; a function call as chat renders an
  assistant tool call; a function call's output as a tool result; a reasoning item by its summary
  text (its encrypted content is not readable here); other items by their JSON (estimates);
- function tools by the cookbook's formula; a ``json_schema`` ``text.format`` by its harmony
  section. Hosted tools (``web_search``...) add what the server renders, not counted here.

A request that continues server state (``previous_response_id``, ``conversation``) or uses a
stored ``prompt`` has more context than its input: the count is then a lower bound, still enough
to refuse an input that cannot fit on its own. With ``truncation="auto"`` the server drops the
oldest items to fit, so the check never refuses such a request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from typed_llm._errors import ContextWindowExceededError
from typed_llm._models.requests import (
    FunctionDefinition,
    FunctionTool,
    JSONSchemaFormat,
    ResponseFormatJSONSchema,
)
from typed_llm._models.responses_api import (
    OutputMessage,
    OutputRefusal,
    OutputText,
    ReasoningItem,
    ResponseCustomToolCall,
    ResponseFunctionCall,
)
from typed_llm._models.responses_request import (
    FormatJSONSchema,
    FunctionCallOutput,
    InputImage,
    InputMessage,
    InputText,
    ResponseFunctionTool,
)
from typed_llm._tokens import (
    _IMAGE_LOW_DETAIL,
    _TOKENS_PER_MESSAGE,
    _TOOL_CALL_EXTRA,
    TokenCount,
    _response_format_tokens,
    _tool_tokens,
    plan_for,
)
from typed_llm._window import model_limits

if TYPE_CHECKING:
    from collections.abc import Callable

    from typed_llm._models.responses_request import InputItem, ResponsesRequest

__all__ = ["check_responses_window", "count_responses_tokens"]


def _message(item: InputMessage, encode: Callable[[str], int]) -> tuple[int, bool]:
    if isinstance(item.content, str):
        return _TOKENS_PER_MESSAGE + encode(item.role) + encode(item.content), True
    total, exact, texts = _TOKENS_PER_MESSAGE + encode(item.role), True, []
    for part in item.content:
        if isinstance(part, InputText):
            texts.append(part.text)
        elif isinstance(part, InputImage):
            total += _IMAGE_LOW_DETAIL
            exact = False
        else:  # a file: no published price
            exact = False
    return total + encode("".join(texts)), exact


def _item(item: InputItem, encode: Callable[[str], int], call_names: dict[str, str]) -> tuple[int, bool]:  # noqa: PLR0911  (one return per item type)
    """Tokens of one input item, and whether the count is exact."""
    if isinstance(item, InputMessage):
        return _message(item, encode)
    if isinstance(item, OutputMessage):
        texts = [
            part.text if isinstance(part, OutputText) else part.refusal
            for part in item.content
            if isinstance(part, OutputText | OutputRefusal)
        ]
        return _TOKENS_PER_MESSAGE + encode("assistant") + encode("".join(texts)), True
    if isinstance(item, ResponseFunctionCall):
        call_names[item.call_id] = item.name
        header = encode(f"assistant to=functions.{item.name}")
        return _TOKENS_PER_MESSAGE + header + encode(item.arguments) + _TOOL_CALL_EXTRA, False
    if isinstance(item, FunctionCallOutput):
        name = call_names.get(item.call_id)
        author = f"functions.{name}" if name is not None else "tool"
        return _TOKENS_PER_MESSAGE + encode(author) + encode(item.output), False
    if isinstance(item, ReasoningItem):
        return sum(encode(part.text) for part in item.summary), False
    if isinstance(item, ResponseCustomToolCall):
        call_names[item.call_id] = item.name
        header = encode(f"assistant to=functions.{item.name}")
        return _TOKENS_PER_MESSAGE + header + encode(item.input) + _TOOL_CALL_EXTRA, False
    # a web search call, or an item newer than this SDK: its JSON, as an estimate
    return _TOKENS_PER_MESSAGE + encode(item.model_dump_json()), False


def _tools(request: ResponsesRequest, encode: Callable[[str], int]) -> int:
    functions = [
        FunctionTool(
            function=FunctionDefinition(
                name=tool.name, description=tool.description, parameters=tool.parameters, strict=tool.strict
            )
        )
        for tool in request.tools or ()
        if isinstance(tool, ResponseFunctionTool)
    ]
    return _tool_tokens(functions, request.model, encode) if functions else 0


def _format(request: ResponsesRequest, encode: Callable[[str], int]) -> int:
    fmt = request.text.format if request.text is not None else None
    if not isinstance(fmt, FormatJSONSchema):
        return 0
    chat_format = ResponseFormatJSONSchema(
        json_schema=JSONSchemaFormat(name=fmt.name, description=fmt.description, schema_=fmt.schema_)
    )
    has_tools = bool(request.tools)
    opens = not has_tools and request.instructions is None and not _has_system_message(request)
    return _response_format_tokens(chat_format, encode, opens_system_message=opens)


def _has_system_message(request: ResponsesRequest) -> bool:
    if isinstance(request.input, str):
        return False
    return any(isinstance(i, InputMessage) and i.role in {"system", "developer"} for i in request.input)


def count_responses_tokens(request: ResponsesRequest, model: str | None = None) -> TokenCount:
    """Input tokens of a Responses request (instructions, input items, tools, text format).

    Returns:
        The count, ``exact`` only when every part is plain text in messages (see the module
        docstring for what is estimated). For a request on server state (``previous_response_id``,
        ``conversation``, a stored ``prompt``) it counts what the request itself carries.
    """
    model = model or request.model  # an Azure deployment's model, when the client knows it
    encode, total = plan_for(model)
    exact = True
    if request.instructions is not None:
        total += _TOKENS_PER_MESSAGE + encode("developer") + encode(request.instructions)
    call_names: dict[str, str] = {}
    if isinstance(request.input, str):  # a user message
        total += _TOKENS_PER_MESSAGE + encode("user") + encode(request.input)
    else:
        for item in request.input:
            tokens, item_exact = _item(item, encode, call_names)
            total += tokens
            exact = exact and item_exact
    if request.tools:
        exact = False
        total += _tools(request, encode)
    formatted = _format(request, encode)
    if formatted:
        exact = False
        total += formatted
    if _on_server_state(request):
        exact = False
    return TokenCount(value=total, exact=exact)


def check_responses_window(request: ResponsesRequest, model: str | None = None) -> int | None:
    """Raise before sending when the counted input plus ``max_output_tokens`` cannot fit.

    Returns:
        The input tokens counted (set against the reported usage), or None when nothing was
        counted.

    Models without known limits are not checked, nor is a request with ``truncation="auto"`` (the
    server drops the oldest items to fit).

    Raises:
        ContextWindowExceededError: it cannot fit (with the counts).
    """
    model = model or request.model
    limits = model_limits(model)
    if limits is None or request.truncation == "auto":
        return None
    output = request.max_output_tokens or 0
    counted = count_responses_tokens(request, model).value
    if counted + output > limits.context_window:
        more = " (and more on the server: this is a lower bound)" if _on_server_state(request) else ""
        raise ContextWindowExceededError(
            f"{model} reads at most {limits.context_window} tokens; this input has {counted}{more} "
            f"and asks room for {output} more",
            model=model,
            prompt_tokens=counted,
            max_output_tokens=output,
            context_window=limits.context_window,
        )
    # On server state the count is a lower bound: no estimate to hold the reported usage against.
    return None if _on_server_state(request) else counted


def _on_server_state(request: ResponsesRequest) -> bool:
    return bool(request.previous_response_id or request.conversation or request.prompt)
