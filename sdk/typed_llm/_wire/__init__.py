"""Sans-I/O translation, one module per API: build the HTTP request, read the answer.

``operation`` is the description every layer runs; ``chat`` and ``embeddings`` are the APIs;
``status`` maps an error answer to its typed error; ``sse`` decodes server-sent events.
"""
