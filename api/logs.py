"""Secrets stay out of the server's logs: a `token` query parameter (the OGC API takes one
for desktop clients that cannot set headers) is redacted from uvicorn's access log."""

from __future__ import annotations

import logging
import re

_TOKEN = re.compile(r"(?i)([?&]token=)[^&\s\"]*")


class RedactTokens(logging.Filter):
    """Replace the value of any `token=` query parameter in a log record's arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_TOKEN.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                                for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = _TOKEN.sub(r"\1[redacted]", record.msg)
        return True


def install() -> None:
    """Attach the filter to uvicorn's access log (once)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        access.addFilter(RedactTokens())
