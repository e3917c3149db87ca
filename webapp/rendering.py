"""Message text to safe HTML: Markdown, highlighted code, and a sanitiser.

markdown-it's ``js-default`` preset never passes raw HTML and refuses
``javascript:`` links; nh3 then allows only the tags Markdown produces, as a
second wall should the first ever crack.
"""

from __future__ import annotations

import functools
import re

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from webapp.text import word_matches

_formatter = HtmlFormatter(nowrap=True, classprefix="hl-")

ALLOWED_TAGS = {
    "a",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "span": {"class"},
    "td": {"class"},
    "th": {"class"},
    "ol": {"start"},
}


def _highlight(code: str, language: str, _attrs: str) -> str:
    """Pygments for fences that name a known language; plain escaped text otherwise."""
    if not language:
        return ""
    try:
        lexer = get_lexer_by_name(language.strip().split()[0])
    except ClassNotFound:
        return ""
    return highlight(code, lexer, _formatter)


@functools.cache
def _markdown() -> MarkdownIt:
    return MarkdownIt("js-default", {"highlight": _highlight}).enable("table").enable("strikethrough")


# Table alignment comes as a style attribute, which the CSP (style-src
# 'self') would block; a class does the same job.
_ALIGN_STYLE = re.compile(r' style="text-align:(left|right|center)"')


def render_markdown(text: str) -> str:
    html = _ALIGN_STYLE.sub(r' class="align-\1"', _markdown().render(text))
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        # A code block scrolls sideways when its lines are long (on a phone,
        # often): focusable, it can be scrolled with the keyboard too.
        set_tag_attribute_values={"pre": {"tabindex": "0"}},
    )


def mark_words(text: str, words: list[str]) -> Markup:
    """``text`` escaped, with each word that starts with one of ``words`` (in
    any case, accents ignored: as search finds them) in ``<mark>``."""
    parts, last = [], 0
    for start, end in word_matches(text, list(words or [])):
        parts.append(escape(text[last:start]))
        parts.append(Markup("<mark>%s</mark>") % text[start:end])
        last = end
    parts.append(escape(text[last:]))
    return Markup("").join(parts)
