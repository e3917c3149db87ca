"""Message Markdown becomes safe HTML."""

import pytest

from tests.html import parse
from webapp.rendering import render_markdown


def markup_of(html: str) -> list[tuple[str, dict]]:
    """Every element with its attributes, as a browser would parse them."""
    return [(element.tag.name, element.tag.attrs) for element in parse(html).having()]


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
        for name, value in attributes.items():
            value = " ".join(value) if isinstance(value, list) else value
            assert not name.startswith("on")
            assert not (value or "").strip().lower().startswith(("javascript:", "vbscript:", "data:"))


def test_links_get_safe_rel():
    html = parse(render_markdown("[docs](https://example.org)"))
    assert html.top.role == "paragraph"
    link = html.one("link", "docs")
    assert link.tag.attrs.keys() == {"href", "rel"}
    assert (link["href"], link["rel"]) == ("https://example.org", "noopener noreferrer nofollow")


def test_fenced_code_is_highlighted_and_unknown_languages_are_plain():
    highlighted = parse(render_markdown("```python\ndef f(): pass\n```"))
    assert [word.classes for word in highlighted.by_text("def")] == [{"hl-k"}]  # a keyword
    plain = render_markdown("```nosuchlang\n<b>x</b>\n```")
    assert "&lt;b&gt;x&lt;/b&gt;" in plain


@pytest.mark.parametrize("markdown", ["```\nx\n```", "    indented\n"])
def test_code_blocks_can_take_the_keyboard_focus(markdown):
    # A long line scrolls the block sideways; focusable, it scrolls by keyboard too.
    (block,) = parse(render_markdown(markdown)).having(tabindex="0")
    assert block.tag.name == "pre"
    assert block.top.tag.name == "code"


def test_a_fenced_block_comes_under_a_bar_naming_its_language():
    html = parse(render_markdown("```python\nprint(1)\n```\n\n```\nplain\n```"))
    first, second = html.having(class_="code-block")
    assert [bar.text for bar in html.having(class_="code-bar")] == ["python", ""]
    assert first.one("code").text == "print(1)" and second.one("code").text == "plain"


@pytest.mark.parametrize(
    ("markdown", "href", "text"),
    [
        ("![a cat on a mat](https://example.org/cat.png)", "https://example.org/cat.png", "Image: a cat on a mat"),
        ("![](https://example.org/cat.png)", "https://example.org/cat.png", "Image: https://example.org/cat.png"),
    ],
)
def test_an_image_becomes_a_link_named_by_its_alt_text(markdown, href, text):
    # The CSP loads no image from elsewhere: the reader follows the link instead.
    html = parse(render_markdown(markdown))
    assert html.having(src=True) == []
    link = html.one("link", text)
    assert link["href"] == href


@pytest.mark.parametrize(
    ("markdown", "href", "text"),
    [
        ("see https://example.org/a?b=1 now", "https://example.org/a?b=1", "https://example.org/a?b=1"),
        ("or www.example.org.", "http://www.example.org", "www.example.org"),
    ],
)
def test_bare_urls_become_links(markdown, href, text):
    link = parse(render_markdown(markdown)).one("link", text)
    assert (link["href"], link["rel"]) == (href, "noopener noreferrer nofollow")


def test_code_and_javascript_urls_are_not_linked():
    html = parse(render_markdown("`https://example.org` and javascript:alert(1)"))
    assert html.by_role("link") == []


def test_table_alignment_uses_classes_not_inline_styles():
    table = parse(render_markdown("| a | b |\n|:-|-:|\n| 1 | 2 |")).one("table")
    columns = [{"align-left"}, {"align-right"}]
    assert [cell.classes for cell in table.by_role("columnheader")] == columns
    assert [cell.classes for cell in table.by_role("cell")] == columns
    assert table.having(style=True) == []
