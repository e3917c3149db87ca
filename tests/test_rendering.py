"""Message Markdown becomes safe HTML."""

import pytest

from webapp.rendering import render_markdown


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
    html = render_markdown(hostile)
    lowered = html.lower()
    for bad in ("<script", "<img", "<iframe", "javascript:", "vbscript:", "data:text", "onerror="):
        if bad in lowered:
            # Only ever as escaped text, never as markup.
            assert f"&lt;{bad[1:]}" in lowered or bad not in lowered.replace("&lt;", "")
    assert "href=\"javascript" not in lowered
    assert "<script" not in lowered and "<img" not in lowered and "<iframe" not in lowered


def test_links_get_safe_rel():
    assert render_markdown("[docs](https://example.org)") == (
        '<p><a href="https://example.org" rel="noopener noreferrer nofollow">docs</a></p>\n'
    )


def test_fenced_code_is_highlighted_and_unknown_languages_are_plain():
    assert '<span class="hl-k">def</span>' in render_markdown("```python\ndef f(): pass\n```")
    plain = render_markdown("```nosuchlang\n<b>x</b>\n```")
    assert "&lt;b&gt;x&lt;/b&gt;" in plain


def test_table_alignment_uses_classes_not_inline_styles():
    html = render_markdown("| a | b |\n|:-|-:|\n| 1 | 2 |")
    assert 'class="align-left"' in html and 'class="align-right"' in html
    assert "style=" not in html
