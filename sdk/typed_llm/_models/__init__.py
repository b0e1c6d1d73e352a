"""Frozen values with no I/O: messages, requests, responses, Azure filter verdicts."""
