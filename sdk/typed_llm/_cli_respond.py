"""``typed-llm respond``: one Responses API call from the command line, its text on standard output.

The call is the library's own: a ``ResponsesRequest`` validated before sending, an ``OpenAIClient``
(or an ``AzureClient`` on the v1 API with ``--azure``) with its retries, pre-flight token check and
log events, reading the key from the environment as the clients do (``OPENAI_API_KEY``,
``AZURE_OPENAI_API_KEY``). ``--stream`` prints the text as it arrives; ``--json`` prints the whole
typed ``Response`` instead. Every failure is the SDK's typed error, printed on one line, exit 1.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import argparse

__all__ = ["add_respond_parser", "respond"]


def add_respond_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``respond`` subcommand's arguments."""
    respond = commands.add_parser(
        "respond", help="send one prompt to the Responses API (POST /v1/responses) and print the answer"
    )
    respond.add_argument("text", help="the input: what the model should answer")
    respond.add_argument("--model", required=True, help="the model (with --azure: the deployment)")
    respond.add_argument("--instructions", help="a system (developer) message")
    respond.add_argument("--max-output-tokens", type=int, help="room for the answer, reasoning included")
    respond.add_argument("--stream", action="store_true", help="print the text as it arrives")
    respond.add_argument("--json", action="store_true", help="print the whole typed Response as JSON")
    respond.add_argument(
        "--base-url", help="the OpenAI-compatible base URL (default: $OPENAI_BASE_URL, else OpenAI's)"
    )
    respond.add_argument(
        "--azure",
        metavar="ENDPOINT",
        help="an Azure OpenAI resource (https://NAME.openai.azure.com), on its v1 API",
    )


def respond(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Make the call ``args`` describe; 0 when it answered, 1 on a typed error, 2 on a bad argument."""
    from pydantic import ValidationError  # noqa: PLC0415  (keep --help fast)

    from typed_llm._client import AzureClient, OpenAIClient  # noqa: PLC0415
    from typed_llm._errors import TypedLLMError  # noqa: PLC0415
    from typed_llm._models.responses_events import OutputTextDelta  # noqa: PLC0415
    from typed_llm._models.responses_request import ResponsesRequest  # noqa: PLC0415

    out = out or sys.stdout
    try:
        request = ResponsesRequest(
            model=args.model,
            input=args.text,
            instructions=args.instructions,
            max_output_tokens=args.max_output_tokens,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        sys.stderr.write(f"typed-llm: not a valid request: {problems}\n")
        return 2
    try:
        client = (
            AzureClient(endpoint=args.azure, api_version="v1")
            if args.azure
            else OpenAIClient(base_url=args.base_url)
        )
        with client:
            if not args.stream:
                response = client.respond(request)
            else:
                with client.stream(request) as stream:
                    for event in stream:
                        if isinstance(event, OutputTextDelta) and not args.json:
                            out.write(event.text)
                            out.flush()
                    response = stream.final_response()
            if args.json:
                out.write(response.model_dump_json(indent=2) + "\n")
            else:
                out.write(("" if args.stream else response.output_text) + "\n")
    except TypedLLMError as exc:
        sys.stderr.write(f"typed-llm: {type(exc).__name__}: {exc}\n")
        return 1
    return 0
