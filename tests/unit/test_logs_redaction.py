"""The access log never keeps a partner's feed token passed in the URL."""

from __future__ import annotations

import logging

from shared.logs import RedactTokens


def test_feed_tokens_in_urls_are_redacted_from_access_log_records() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/feeds/enab/rss.xml?before=x&token=cfp_SECRET123", "1.1", 200),
        None,
    )  # fmt: skip
    assert RedactTokens().filter(record) is True
    line = record.getMessage()
    assert "cfp_SECRET123" not in line
    assert "token=[redacted]" in line and "before=x" in line


def test_encoded_token_names_and_websub_callbacks_are_redacted() -> None:
    for path in ("/feeds/enab/rss.xml?%74oken=cfp_SECRET123",
                 "/feeds/e/a.xml?x=1&to%6Ben=cfp_SECRET123",
                 "/websub/SECRET123abc?hub.mode=subscribe"):  # fmt: skip
        line = RedactTokens.redact(f'127.0.0.1:5000 - "GET {path} HTTP/1.1" 200')
        assert "SECRET123" not in line and "[redacted]" in line, line
    assert RedactTokens.redact("/feeds/e/rss.xml?before=abc") == "/feeds/e/rss.xml?before=abc"
