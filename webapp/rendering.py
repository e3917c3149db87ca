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
import multiprocessing
import os
import re
import signal
import threading

import nh3
from linkify_it import LinkifyIt
from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
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


@functools.lru_cache(maxsize=256)
def _lexer_class(name: str) -> type[Lexer] | None:
    """The lexer a fence's language names, or None. Looked up once per name:
    ``get_lexer_by_name`` walks every lexer's aliases each time."""
    try:
        return type(get_lexer_by_name(name))
    except ClassNotFound:
        return None


def _highlight(code: str, language: str, _attrs: str) -> str:
    """Pygments for fences that name a known language; plain escaped text otherwise."""
    if not language:
        return ""
    lexer = _lexer_class(language.strip().split()[0])
    if lexer is None:
        return ""
    # A new instance each time, as get_lexer_by_name gives: a lexer may keep
    # state while it runs, and pages render in several threads at once.
    return highlight(code, lexer(), _formatter)


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


class _Linkify(LinkifyIt):
    """linkify-it with the same answers, sooner: its ``pretest``, run on
    every paragraph, is one regular expression whose first branch (a schema
    such as ``https:`` after a space or punctuation mark) spells out every
    Unicode space and punctuation mark, and costs a quarter of a reply's
    rendering. The same three branches are tried one by one here, that one
    only once the schema's own letters are found: a text has a match for
    ``A|B|C`` exactly when it has one for A, for B or for C."""

    _SCHEMA_BEFORE = "(^|(?!_)(?:[><\uff5c]|{}))("  # how linkify-it 2 writes its schema test

    def _compile(self) -> None:
        super()._compile()
        before = self._SCHEMA_BEFORE.format(self.re["src_ZPCc"])
        schema_test, pretest = self.re["schema_test"], self.re["pretest"]
        split = schema_test.startswith(before) and schema_test.endswith(")")
        split = split and pretest == f"({schema_test})|({self.re['host_fuzzy_test']})|@"
        self._split = split
        if split:
            # "http:|https:|ftp:|//|mailto:", escaped as linkify-it escapes them
            self._schema_names = re.compile(schema_test[len(before) : -1], re.IGNORECASE)
            self._schema_test = re.compile(schema_test, re.IGNORECASE)
            self._host_fuzzy_test = re.compile(self.re["host_fuzzy_test"], re.IGNORECASE)

    def pretest(self, text: str) -> bool:
        if not self._split:  # a linkify-it that builds its pretest otherwise: its own
            return super().pretest(text)
        return bool(
            "@" in text
            or self._host_fuzzy_test.search(text)
            or (self._schema_names.search(text) and self._schema_test.search(text))
        )


@functools.cache
def _markdown() -> MarkdownIt:
    md = (
        MarkdownIt("js-default", {"highlight": _highlight, "linkify": True})
        .enable("table")
        .enable("strikethrough")
        .enable("linkify")
        # Rules that do nothing with these options (no raw HTML, no
        # typographer), though each is called for every block or paragraph.
        .disable(["html_block", "html_inline", "replacements", "smartquotes"])
    )
    md.linkify = _Linkify()
    md.renderer.rules_default_fence = md.renderer.rules["fence"]
    md.add_render_rule("image", _image_as_link)
    md.add_render_rule("fence", _fence_with_bar)
    return md


# Table alignment comes as a style attribute, which the CSP (style-src
# 'self') would block; a class does the same job.
_ALIGN_STYLE = re.compile(r' style="text-align:(left|right|center)"')


@functools.cache
def _cleaner() -> nh3.Cleaner:
    """The sanitiser, built once (``nh3.clean`` builds one per call)."""
    return nh3.Cleaner(
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        # A code block scrolls sideways when its lines are long (on a phone,
        # often): focusable, it can be scrolled with the keyboard too.
        set_tag_attribute_values={"pre": {"tabindex": "0"}},
    )


def render_markdown(text: str) -> str:
    html = _ALIGN_STYLE.sub(r' class="align-\1"', _markdown().render(text))
    return _cleaner().clean(html)


def render_all(texts: list[str]) -> list[str]:
    """Each of ``texts`` rendered: what an import's render worker does with
    a thread's replies (``webapp.imports.rendering``)."""
    return [render_markdown(text) for text in texts]


def start_render_worker() -> None:
    """A render worker's start: Ctrl-C in the server's terminal is for the
    server, which stops its workers itself; a worker whose server died
    (killed, say, with no chance to stop them) ends too; the parser is
    built once, now."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server = multiprocessing.parent_process()
    if server is not None:
        threading.Thread(target=_end_with, args=(server,), name="end-with-server", daemon=True).start()
    render_markdown("")


def _end_with(server: multiprocessing.process.BaseProcess) -> None:
    server.join()  # returns once the server process is gone
    os._exit(0)


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
