"""Secrets never reach a terminal or a log: API keys, Authorization headers and passwords in URLs are masked."""
from __future__ import annotations

import logging
import os
import re

_KEYLIKE = re.compile(r"\b(?:sk|pk|rk|key|api)[-_][A-Za-z0-9_\-]{8,}", re.IGNORECASE)
_AUTH = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:bearer|basic|token)?\s*)[^\s'\",}]+")
_HEADER_KEY = re.compile(r"(?i)((?:x-)?api[-_]key['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+")
_URL_PASSWORD = re.compile(r"(://[^/\s:@]*:)[^@\s/]+@")
_SECRET_NAMES = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD")


def redact(text: str) -> str:
    """text with every secret-looking value replaced by ***."""
    for name, value in os.environ.items():
        if len(value) >= 8 and any(word in name.upper() for word in _SECRET_NAMES):
            text = text.replace(value, "***")
    text = _AUTH.sub(r"\1***", text)
    text = _HEADER_KEY.sub(r"\1***", text)
    text = _URL_PASSWORD.sub(r"\1***@", text)
    return _KEYLIKE.sub("***", text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's rendered message (arguments included) and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logged as it is
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
