"""Machine-translation drafts: a provider interface, `none` (the default) and LibreTranslate.

A draft is stored as a translation version marked machine-made; the workflow refuses to submit
or approve such a version until a person saves over it, so nothing machine-made is published
unreviewed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

from shared.errors import CrossfeedError
from shared.http import FetchError, SafeClient
from shared.security import redact
from shared.settings import Settings


class TranslationUnavailable(CrossfeedError):
    """The provider is off, unreachable or refused; the message says which (503 in the API)."""

    status = 503
    title = "Machine translation unavailable"


@dataclass(frozen=True)
class Draft:
    title: str
    body_html: str


class Provider(Protocol):
    name: str

    def translate(self, title: str, body_html: str, source: str, target: str) -> Draft: ...


class NoProvider:
    name = "none"

    def translate(self, title: str, body_html: str, source: str, target: str) -> Draft:
        raise TranslationUnavailable(
            "machine translation is off (set CROSSFEED_MT_PROVIDER=libretranslate)"
        )


class LibreTranslate:
    """LibreTranslate's HTTP API (`POST /translate`), self-hosted; sent through the safe client.

    The title goes as text and the body as HTML in one request (`q` as a list), so markup
    survives and the server is asked once per draft.
    """

    name = "libretranslate"

    def __init__(self, client: SafeClient, url: str, api_key: str | None) -> None:
        self.client = client
        self.url = url.rstrip("/") + "/translate"
        self.api_key = api_key

    def translate(self, title: str, body_html: str, source: str, target: str) -> Draft:
        payload: dict[str, object] = {
            "q": [title, body_html],
            "source": source,
            "target": target,
            "format": "html",
        }
        if self.api_key:
            payload["api_key"] = self.api_key
        try:
            result = self.client.request(
                "POST",
                self.url,
                headers={"Content-Type": "application/json", "Accept": "application/json"},
                data=json.dumps(payload).encode(),
                max_bytes=8 * 1024 * 1024,
            )
        except FetchError as exc:
            message = redact(f"LibreTranslate cannot be reached: {exc}", self.api_key)
            raise TranslationUnavailable(message) from exc
        try:
            answer = json.loads(result.body)
        except ValueError:
            answer = {}
        if result.status != 200:
            reason = answer.get("error") if isinstance(answer, dict) else None
            raise TranslationUnavailable(redact(  # its error may repeat the request's API key
                f"LibreTranslate refused (HTTP {result.status}): {reason or 'no reason given'}",
                self.api_key,
            ))  # fmt: skip
        translated = answer.get("translatedText") if isinstance(answer, dict) else None
        if not (isinstance(translated, list) and len(translated) == 2
                and all(isinstance(t, str) for t in translated)):  # fmt: skip
            raise TranslationUnavailable("LibreTranslate answered without two translated texts")
        return Draft(title=translated[0], body_html=translated[1])


def provider(settings: Settings, client: SafeClient) -> Provider:
    if settings.mt_provider == "libretranslate":
        return LibreTranslate(client, settings.mt_url, settings.mt_api_key)
    return NoProvider()
