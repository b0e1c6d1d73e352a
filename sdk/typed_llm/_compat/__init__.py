"""TinyTroupe's surface: settings (config.ini), the client registry and LLMCall templates.

``typed_llm.openai_utils`` re-exports it with the seed's names.
"""
