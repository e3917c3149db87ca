"""Message text to safe HTML: Markdown, highlighted code, and a sanitiser.

markdown-it's ``js-default`` preset never passes raw HTML and refuses
``javascript:`` links; nh3 then allows only the tags Markdown produces, as a
second wall should the first ever crack. Bare URLs become links (linkify);
an image becomes a link to it, named by its alt text, since the page's CSP
loads no image from elsewhere; a code block comes under a bar that names its
language (where parley.js puts its Copy button).
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
    "div",
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
    "div": {"class"},
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


def _image_as_link(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env).strip()
    src = token.attrGet("src") or ""
    if not src:
        return str(escape(alt))
    return f'<a href="{escape(src)}">Image: {escape(alt or src)}</a>'


def _fence_with_bar(self, tokens, idx, options, env) -> str:
    language = (tokens[idx].info or "").strip().split(maxsplit=1)
    label = f'<span class="code-lang">{escape(language[0])}</span>' if language else ""
    block = self.rules_default_fence(tokens, idx, options, env)
    return f'<div class="code-block"><div class="code-bar">{label}</div>{block}</div>\n'


@functools.cache
def _markdown() -> MarkdownIt:
    md = (
        MarkdownIt("js-default", {"highlight": _highlight, "linkify": True})
        .enable("table")
        .enable("strikethrough")
        .enable("linkify")
    )
    md.renderer.rules_default_fence = md.renderer.rules["fence"]
    md.add_render_rule("image", _image_as_link)
    md.add_render_rule("fence", _fence_with_bar)
    return md


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
