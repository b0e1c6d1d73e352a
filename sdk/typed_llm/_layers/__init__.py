"""The layers every call passes through, each written once against the ``Operation`` description.

``pipeline`` holds the machinery (effects, the values layers pass, the sync and async drivers);
``preflight``, ``log``, ``cache`` and ``retry`` are the layers, in the order every client stacks them.
"""
