"""A Report as PDF: WeasyPrint lays out the report's own HTML, with no network.

The HTML carries its pictures as data URIs; the fetcher allows `data:` and nothing else,
so a stray remote URL in a label can neither leak the reader's address nor stall the
render: WeasyPrint logs the refusal and leaves the picture out.
"""

from __future__ import annotations

from typing import Any


def offline_fetcher() -> Any:
    """A WeasyPrint URL fetcher that only reads `data:` URIs."""
    from weasyprint import URLFetcher

    return URLFetcher(allowed_protocols=("data",), allow_redirects=False, timeout=1)


def html_to_pdf(html: str) -> bytes:
    """PDF bytes of an HTML document whose resources are all inline."""
    from weasyprint import HTML

    document = HTML(string=html, base_url=None, url_fetcher=offline_fetcher())
    pdf = document.write_pdf()
    assert pdf is not None
    return bytes(pdf)
