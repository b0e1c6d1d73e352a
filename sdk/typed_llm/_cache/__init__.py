"""The response cache: the content-addressed key, the protocol and the backends."""
