"""A minimal client for any OpenAI-compatible chat-completions endpoint.

llama.cpp's server, vLLM, Ollama, LM Studio and the hosted APIs all accept
``POST {endpoint}/chat/completions`` with ``{"model", "messages"}`` and answer with
``choices[0].message.content``; nothing more is needed, so no SDK dependency.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

__all__ = ["ChatClient", "ChatError", "client_from_settings"]

# status codes worth retrying: rate limits and transient server trouble
_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class ChatError(RuntimeError):
    """The endpoint could not be reached or answered with something other than a completion."""


@dataclass(frozen=True)
class ChatClient:
    endpoint: str  # base URL, e.g. http://localhost:8000/v1
    model: str
    api_key: str | None = None
    timeout: float = 300.0  # seconds per request: local models can be slow to answer
    retries: int = 3  # extra attempts after the first, for connection errors, timeouts and _RETRY_STATUS
    backoff: float = 1.0  # urllib3's backoff factor: the first retry at once, then after 2, 4, ... x backoff s
    temperature: float | None = 0.0  # deterministic where the server supports it

    @property
    def url(self) -> str:
        return self.endpoint.rstrip("/") + "/chat/completions"

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The assistant's reply to ``messages``; raises :class:`ChatError` after the retries."""
        payload: dict[str, object] = {"model": self.model, "messages": messages}
        if self.temperature is not None:
            payload["temperature"] = self.temperature
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        attempts = f"gave up after {self.retries + 1} attempts"
        # POST is retried too: a completion has no side effect; a 429's or 503's Retry-After is honoured
        retry = Retry(
            total=self.retries,
            backoff_factor=self.backoff,
            status_forcelist=_RETRY_STATUS,
            allowed_methods=None,
            raise_on_status=False,
        )
        with requests.Session() as session:
            session.mount("http://", HTTPAdapter(max_retries=retry))
            session.mount("https://", HTTPAdapter(max_retries=retry))
            try:
                response = session.post(self.url, json=payload, headers=headers, timeout=self.timeout)
            except requests.RequestException as error:
                raise ChatError(f"cannot reach {self.url}: {error} ({attempts})") from None
            if response.status_code in _RETRY_STATUS:
                raise ChatError(f"{self.url} answered HTTP {response.status_code}: {response.text[:300]} ({attempts})")
            if response.status_code != 200:
                raise ChatError(f"{self.url} answered HTTP {response.status_code}: {response.text[:500]}")
            return _content(self.url, response)


def _content(url: str, response: requests.Response) -> str:
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise ChatError(f"{url} did not answer with a chat completion: {response.text[:500]}") from None
    if not isinstance(content, str):
        raise ChatError(f"{url}: the completion has no text content")
    return content


def client_from_settings(
    endpoint: str | None = None, model: str | None = None, api_key: str | None = None, **options: float
) -> ChatClient:
    """A client from explicit values, falling back to NCO_LLM_ENDPOINT, NCO_LLM_MODEL and
    NCO_LLM_API_KEY (or OPENAI_API_KEY)."""
    endpoint = endpoint or os.environ.get("NCO_LLM_ENDPOINT")
    model = model or os.environ.get("NCO_LLM_MODEL")
    api_key = api_key or os.environ.get("NCO_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY")
    if not endpoint:
        raise ChatError(
            "no LLM endpoint: pass --endpoint / endpoint= or set NCO_LLM_ENDPOINT (e.g. http://localhost:8000/v1)"
        )
    if not model:
        raise ChatError("no model name: pass --model / model= or set NCO_LLM_MODEL")
    return ChatClient(endpoint=endpoint, model=model, api_key=api_key, **options)  # type: ignore[arg-type]
