"""A stand-in for a LibreTranslate server, speaking its real HTTP API on 127.0.0.1.

LibreTranslate needs language models that cannot be downloaded here. This serves
`POST /translate` (JSON or form body: q as a string or a list, source, target, format text or
html, api_key) and `GET /languages` as LibreTranslate does, with its error shape
(`{"error": "..."}` and 400/403/429/500). "Translation" is a small word list with the text
marked, enough to see that the text went through and the markup survived.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs

from tests.support.httpserver import LocalServer, Reply, Request

WORDS = {"انقطاع": "outage", "الكهرباء": "electricity", "في": "in", "درعا": "Daraa",
         "تقنين": "rationing", "جديد": "new", "خبر": "news", "نص": "text"}  # fmt: skip
LANGUAGES = [{"code": "ar", "name": "Arabic", "targets": ["en"]},
             {"code": "en", "name": "English", "targets": ["ar"]}]  # fmt: skip
_WORD = re.compile(r"[\u0600-\u06ff]+")
_TEXT = re.compile(r"(?<=>)[^<]+|^[^<]+")


def _translate(text: str, html: bool) -> str:
    def words(segment: str) -> str:
        return _WORD.sub(lambda m: WORDS.get(m.group(0), m.group(0)), segment)

    if html:
        return _TEXT.sub(lambda m: words(m.group(0)), text)
    return words(text)


def _error(status: int, message: str) -> Reply:
    return Reply(status, json.dumps({"error": message}).encode(),
                 {"Content-Type": "application/json"})  # fmt: skip


class LibreTranslateServer(LocalServer):
    def start(self) -> LibreTranslateServer:
        super().start()
        return self

    def __init__(self, api_key: str | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        self.route("/translate", self._translate)
        self.route("/languages", Reply(200, json.dumps(LANGUAGES).encode(),
                                       {"Content-Type": "application/json"}))  # fmt: skip

    def _translate(self, request: Request) -> Reply:
        if request.method != "POST":
            return _error(405, "Method Not Allowed")
        if "json" in request.headers.get("Content-Type", ""):
            try:
                args = json.loads(request.body)
            except ValueError:
                return _error(400, "Invalid request: malformed JSON")
        else:
            args = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if self.api_key is not None and args.get("api_key") != self.api_key:
            return _error(403, "Invalid API key")
        q, source, target = args.get("q"), args.get("source"), args.get("target")
        if not q:
            return _error(400, "Invalid request: missing q parameter")
        if not source:
            return _error(400, "Invalid request: missing source parameter")
        if not target:
            return _error(400, "Invalid request: missing target parameter")
        codes = {lang["code"] for lang in LANGUAGES}
        for code in (source, target):
            if code not in codes and code != "auto":
                return _error(400, f"{code} is not supported")
        html = args.get("format", "text") == "html"
        texts = q if isinstance(q, list) else [q]
        translated = [_translate(str(text), html) for text in texts]
        answer = {"translatedText": translated if isinstance(q, list) else translated[0]}
        return Reply(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})
