"""Client set-up: credentials and endpoints from arguments or the environment, and clear errors.

A misconfigured client fails when it is built, with a ConfigurationError that says what to set,
never at the first call and never with an exception of the openai package.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING

import pytest

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY
from typed_llm import (
    DEFAULT_AZURE_API_VERSION,
    AzureClient,
    ChatRequest,
    ConfigurationError,
    OpenAIClient,
    UserMessage,
)
from typed_llm._backoff import NoRetry

if TYPE_CHECKING:
    from collections.abc import Callable

    from typed_llm.testing._fake import FakeAPI

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),))


def test_openai_without_key_says_what_to_set() -> None:
    """No api_key and no OPENAI_API_KEY: ConfigurationError naming both."""
    with pytest.raises(ConfigurationError, match=r"api_key=.*OPENAI_API_KEY"):
        OpenAIClient()


def test_openai_reads_key_and_base_url_from_environment(
    fake: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_ORG_ID and OPENAI_PROJECT_ID are used when not given."""
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_base_url)
    monkeypatch.setenv("OPENAI_ORG_ID", "org-test")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-test")
    OpenAIClient().complete(REQUEST)
    (sent,) = fake.received
    assert sent.headers["authorization"] == f"Bearer {FAKE_OPENAI_KEY}"
    assert (sent.headers["openai-organization"], sent.headers["openai-project"]) == ("org-test", "proj-test")


def test_bad_base_url_is_refused() -> None:
    """A base URL that is not http(s) fails at construction."""
    with pytest.raises(ConfigurationError, match="http"):
        OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url="api.openai.com/v1")


def test_azure_without_endpoint_says_what_to_set() -> None:
    """No endpoint and no AZURE_OPENAI_ENDPOINT: ConfigurationError naming both."""
    with pytest.raises(ConfigurationError, match=r"endpoint=.*AZURE_OPENAI_ENDPOINT"):
        AzureClient(api_key=FAKE_AZURE_KEY)


def test_azure_without_credential_and_without_extra_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key, no token provider and no azure-identity: ConfigurationError listing every way out."""
    monkeypatch.setitem(sys.modules, "azure.identity", None)  # as if the extra were not installed
    with pytest.raises(ConfigurationError) as caught:
        AzureClient(endpoint="https://resource.openai.azure.com")
    message = str(caught.value)
    for hint in ("api_key=", "token_provider=", "AZURE_OPENAI_API_KEY", "typed-llm[azure]"):
        assert hint in message


def test_azure_key_and_token_provider_together_are_refused() -> None:
    """Two credentials is ambiguous: refused."""
    with pytest.raises(ConfigurationError, match="not both"):
        AzureClient(endpoint="https://r.openai.azure.com", api_key=FAKE_AZURE_KEY, token_provider=lambda: "t")


@pytest.mark.parametrize("variable", ["AZURE_OPENAI_API_KEY", "AZURE_OPENAI_KEY"])
def test_azure_reads_environment(fake: FakeAPI, monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    """Endpoint and key come from the environment, including the seed's AZURE_OPENAI_KEY."""
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", fake.url)
    monkeypatch.setenv(variable, FAKE_AZURE_KEY)
    AzureClient().complete(REQUEST)
    (sent,) = fake.received
    assert sent.headers["api-key"] == FAKE_AZURE_KEY
    assert sent.query["api-version"] == DEFAULT_AZURE_API_VERSION
    assert sent.path == "/openai/deployments/gpt-4o-mini/chat/completions"


def test_azure_api_version_from_argument_and_environment(
    fake: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """api_version= wins over AZURE_OPENAI_API_VERSION, which is used when none is given."""
    monkeypatch.setenv("AZURE_OPENAI_API_VERSION", "2025-04-01-preview")
    AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY).complete(REQUEST)
    AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, api_version="2024-06-01").complete(REQUEST)
    assert [r.query["api-version"] for r in fake.received] == ["2025-04-01-preview", "2024-06-01"]


def test_azure_token_provider_is_called_per_request(fake: FakeAPI) -> None:
    """A token provider's token goes out as the bearer, fresh on every request."""
    tokens = iter(["token-one", "token-two"])
    client = AzureClient(endpoint=fake.url, token_provider=lambda: next(tokens))
    client.complete(REQUEST)
    client.complete(REQUEST)
    assert [r.headers["authorization"] for r in fake.received] == ["Bearer token-one", "Bearer token-two"]
    assert all("api-key" not in r.headers for r in fake.received)


def test_azure_v1_token_provider(fake: FakeAPI) -> None:
    """The v1 API takes the Entra token as the bearer too, with no api-version."""
    AzureClient(endpoint=fake.url, api_version="v1", token_provider=lambda: "v1-token").complete(REQUEST)
    (sent,) = fake.received
    assert (sent.path, sent.query, sent.headers["authorization"]) == (
        "/openai/v1/chat/completions",
        {},
        "Bearer v1-token",
    )


def test_azure_entra_id_through_the_extra(fake: FakeAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no key, azure-identity's DefaultAzureCredential is asked for Cognitive Services tokens.

    azure-identity cannot sign in on a machine with no Azure, so a stand-in module with its two
    functions takes its place; what is checked is the SDK's wiring: the scope asked for and the
    token reaching the request.
    """
    scopes: list[str] = []

    def get_bearer_token_provider(credential: object, scope: str) -> Callable[[], str]:
        assert credential == "default-credential"
        scopes.append(scope)
        return lambda: "entra-token"

    identity = types.ModuleType("azure.identity")
    identity.DefaultAzureCredential = lambda: "default-credential"  # type: ignore[attr-defined]  # stand-in module
    identity.get_bearer_token_provider = get_bearer_token_provider  # type: ignore[attr-defined]  # stand-in module
    monkeypatch.setitem(sys.modules, "azure", types.ModuleType("azure"))
    monkeypatch.setitem(sys.modules, "azure.identity", identity)
    AzureClient(endpoint=fake.url).complete(REQUEST)
    assert scopes == ["https://cognitiveservices.azure.com/.default"]
    assert fake.received[0].headers["authorization"] == "Bearer entra-token"


def test_openai_packages_retries_are_off(fake: FakeAPI) -> None:
    """The openai package's own retries are off: with NoRetry, a 500 is one request, not three."""
    from typed_llm import ServerError  # noqa: PLC0415
    from typed_llm.testing._replies import FakeReply  # noqa: PLC0415

    fake.enqueue(FakeReply.error(500, "boom"), FakeReply.error(500, "boom"), FakeReply.error(500, "boom"))
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, backoff=NoRetry())
    with pytest.raises(ServerError):
        client.complete(REQUEST)
    assert len(fake.received) == 1


def test_failing_token_provider_is_a_typed_error(fake: FakeAPI) -> None:
    """A token provider that raises or returns no token: ConfigurationError, chained; nothing sent."""

    def expired() -> str:
        raise RuntimeError("credential expired")

    with pytest.raises(
        ConfigurationError, match="token provider failed: RuntimeError: credential expired"
    ) as caught:
        AzureClient(endpoint=fake.url, token_provider=expired).complete(REQUEST)
    assert isinstance(caught.value.__cause__, RuntimeError)
    with pytest.raises(ConfigurationError, match="returned None"):
        AzureClient(endpoint=fake.url, api_version="v1", token_provider=lambda: None).complete(REQUEST)  # type: ignore[arg-type, return-value]  # the misuse under test
    assert fake.received == []


@pytest.mark.parametrize("key", ["sk-test-\u201cquoted\u201d", "sk-test-trailing\n", "sk test space"])
def test_key_a_header_cannot_carry_is_refused(key: str) -> None:
    """A pasted key with a smart quote, a line break or a space fails at construction, clearly."""
    with pytest.raises(ConfigurationError, match="copy the key again"):
        OpenAIClient(api_key=key)
    with pytest.raises(ConfigurationError, match="copy the key again"):
        AzureClient(endpoint="https://r.openai.azure.com", api_key=key)


@pytest.mark.parametrize("suffix", ["", "/", "/openai", "/openai/", "/openai/v1", "/openai/v1/"])
def test_azure_endpoint_in_every_pasted_form(fake: FakeAPI, suffix: str) -> None:
    """The resource URL works with or without /openai or /openai/v1 on the end."""
    AzureClient(endpoint=fake.url + suffix, api_key=FAKE_AZURE_KEY).complete(REQUEST)
    AzureClient(endpoint=fake.url + suffix, api_key=FAKE_AZURE_KEY, api_version="v1").complete(REQUEST)
    assert [r.path for r in fake.received] == [
        "/openai/deployments/gpt-4o-mini/chat/completions",
        "/openai/v1/chat/completions",
    ]


@pytest.mark.parametrize(
    "endpoint", ["resource.openai.azure.com", "https://", "http://[::1", "ftp://r.example"]
)
def test_bad_azure_endpoint_is_refused(endpoint: str) -> None:
    """An endpoint that is not an http(s) URL with a host fails at construction."""
    with pytest.raises(ConfigurationError, match="endpoint"):
        AzureClient(endpoint=endpoint, api_key=FAKE_AZURE_KEY)


def test_azure_v1_preview_sends_its_api_version(fake: FakeAPI) -> None:
    """api_version='preview' is the v1 path with api-version=preview."""
    AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, api_version="preview").complete(REQUEST)
    (sent,) = fake.received
    assert (sent.path, sent.query) == ("/openai/v1/chat/completions", {"api-version": "preview"})


def test_openai_organization_never_reaches_azure(fake: FakeAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """OPENAI_ORG_ID and OPENAI_PROJECT_ID belong to OpenAI: Azure requests do not carry them."""
    monkeypatch.setenv("OPENAI_ORG_ID", "org-not-for-azure")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-not-for-azure")
    AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY).complete(REQUEST)
    AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, api_version="v1").complete(REQUEST)
    for sent in fake.received:
        assert "openai-organization" not in sent.headers
        assert "openai-project" not in sent.headers


def test_deployment_names_cannot_change_the_path(fake: FakeAPI) -> None:
    """A deployment name with '/', '?' or '..' is quoted: it stays one path segment."""
    client = AzureClient(
        endpoint=fake.url, api_key=FAKE_AZURE_KEY, deployments={"gpt-4o-mini": "a/../../v1?x=1"}
    )
    client.complete(REQUEST)
    (sent,) = fake.received
    assert sent.path == "/openai/deployments/a%2F..%2F..%2Fv1%3Fx%3D1/chat/completions"
    assert sent.query == {"api-version": DEFAULT_AZURE_API_VERSION}
