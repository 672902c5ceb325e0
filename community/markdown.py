"""Markdown in, safe HTML out: the one place the community app touches its Markdown parser
(markdown-it-py) and HTML sanitiser (nh3).

Raw HTML in the Markdown is shown as text, not passed through; the rendered HTML is then
cleaned against an allow-list, so no script, no event handler, no style and no link or image
that is not http(s) or mailto ever reaches a reader, whatever the parser lets through.
"""

import nh3
from markdown_it import MarkdownIt

_parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
}
URL_SCHEMES = {"http", "https", "mailto"}


def render(text: str) -> str:
    """Markdown → sanitised HTML."""
    html = _parser.render(text or "")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        # Tables align cells with style="text-align: ..."; nothing else of CSS is kept.
        filter_style_properties={"text-align"},
        strip_comments=True,
    )
