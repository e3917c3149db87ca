"""Message Markdown becomes safe HTML."""

from html.parser import HTMLParser

import pytest

from webapp.rendering import render_markdown


def markup_of(html: str) -> list[tuple[str, list]]:
    """Every start tag with its attributes, as a browser would parse them."""
    found = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collect().feed(html)
    return found


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "![x](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "<iframe src=//evil.example></iframe>",
        "[x](vbscript:msgbox)",
    ],
)
def test_hostile_markdown_renders_inert(hostile):
    tags = markup_of(render_markdown(hostile))
    for tag, attributes in tags:
        assert tag not in {"script", "img", "iframe", "object", "embed", "style"}
        for name, value in attributes:
            assert not name.startswith("on")
            assert not (value or "").strip().lower().startswith(("javascript:", "vbscript:", "data:"))


def test_links_get_safe_rel():
    assert render_markdown("[docs](https://example.org)") == (
        '<p><a href="https://example.org" rel="noopener noreferrer nofollow">docs</a></p>\n'
    )


def test_fenced_code_is_highlighted_and_unknown_languages_are_plain():
    assert '<span class="hl-k">def</span>' in render_markdown("```python\ndef f(): pass\n```")
    plain = render_markdown("```nosuchlang\n<b>x</b>\n```")
    assert "&lt;b&gt;x&lt;/b&gt;" in plain


def test_code_blocks_can_take_the_keyboard_focus():
    # A long line scrolls the block sideways; focusable, it scrolls by keyboard too.
    assert render_markdown("```\nx\n```").startswith('<pre tabindex="0"><code>')
    assert render_markdown("    indented\n").startswith('<pre tabindex="0">')


def test_table_alignment_uses_classes_not_inline_styles():
    html = render_markdown("| a | b |\n|:-|-:|\n| 1 | 2 |")
    assert 'class="align-left"' in html and 'class="align-right"' in html
    assert "style=" not in html
