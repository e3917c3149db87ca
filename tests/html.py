"""Read the HTML the app answers the way a person (or a screen reader) meets
it: find elements by id, role, label or text, rather than match exact markup.

    page = parse(response.text)
    page.one("heading", level=1).text == "Trip to Lisbon"
    page.one("button", "Make admin bob")["id"]
    page.by_label("New title")["value"]
    page.by_role("form", action="/c/…/title")          # attributes narrow the search
    page.top                                           # an htmx partial's first element

Roles are the implicit ARIA roles of the elements (a link is ``<a href>``,
a row header is ``<th scope=row>`` …) or an explicit ``role``; an element's
``name`` is its accessible name, much as the browser computes it:
``aria-labelledby``, ``aria-label``, a form control's ``<label>``, a table's
``<caption>``, else its text, leaving out what is ``aria-hidden``.
A name given as ``str`` must match exactly (white space collapsed); a
compiled regex is searched for.

Checks that are about the markup itself (that hostile text arrives escaped)
stay plain string checks on ``response.text``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

from bs4 import BeautifulSoup, NavigableString, Tag

Name = str | re.Pattern[str] | None
Value = str | re.Pattern[str] | bool

_INPUT_ROLES = {
    "button": "button",
    "submit": "button",
    "reset": "button",
    "image": "button",
    "checkbox": "checkbox",
    "radio": "radio",
    "search": "searchbox",
    "range": "slider",
    "number": "spinbutton",
    "text": "textbox",
    "email": "textbox",
    "tel": "textbox",
    "url": "textbox",
    "password": "textbox",
}
_SECTIONING = {"article", "aside", "main", "nav", "section"}
_TAG_ROLES = {
    "button": "button",
    "textarea": "textbox",
    "nav": "navigation",
    "main": "main",
    "form": "form",
    "search": "search",
    "table": "table",
    "tr": "row",
    "td": "cell",
    "ul": "list",
    "ol": "list",
    "li": "listitem",
    "article": "article",
    "aside": "complementary",
    "details": "group",
    "dialog": "dialog",
    "img": "img",
    "p": "paragraph",
    "caption": "caption",
    "time": "time",
    "progress": "progressbar",
    "section": "region",
    "select": "combobox",
    "em": "emphasis",
    "strong": "strong",
    "code": "code",
    "h1": "heading",
    "h2": "heading",
    "h3": "heading",
    "h4": "heading",
    "h5": "heading",
    "h6": "heading",
}
_NAMED_FROM_CONTENT = {
    "button",
    "link",
    "heading",
    "cell",
    "columnheader",
    "rowheader",
    "row",
    "listitem",
    "caption",
    "checkbox",
    "radio",
    "tab",
    "menuitem",
    "option",
    "tooltip",
    "switch",
    "alert",
    "status",
    "paragraph",
}


def squash(text: str) -> str:
    """White space collapsed, as a page shows text."""
    return " ".join(text.split())


def _matches(value: str, wanted: Name) -> bool:
    if wanted is None:
        return True
    if isinstance(wanted, re.Pattern):
        return wanted.search(value) is not None
    return value == squash(wanted)


def _attribute_matches(actual: str | None, wanted: Value) -> bool:
    if actual is None or wanted is False:
        return actual is None and wanted is False
    if wanted is True:
        return True
    return _matches(actual, wanted) if isinstance(wanted, re.Pattern) else actual == wanted


class Element:
    """One element of a parsed page (or the page itself)."""

    def __init__(self, tag: Tag, root: Tag | None = None):
        self.tag = tag
        self._root = root if root is not None else tag

    def __repr__(self) -> str:
        return f"<{self.tag.name} {self.tag.attrs}> {self.text[:80]!r}"

    # --- what the element is -----------------------------------------------------------

    @property
    def text(self) -> str:
        """Its text, white space collapsed (visually hidden text included)."""
        return squash(self.tag.get_text())

    def __getitem__(self, attribute: str) -> str:
        """An attribute's value (``class`` as one string); KeyError if absent."""
        value = self.tag[attribute]
        return " ".join(value) if isinstance(value, list) else value

    def get(self, attribute: str, default: str | None = None) -> str | None:
        return self[attribute] if self.tag.has_attr(attribute) else default

    def has(self, attribute: str) -> bool:
        return self.tag.has_attr(attribute)

    @property
    def classes(self) -> set[str]:
        return set(self.tag.get("class") or [])

    @property
    def role(self) -> str | None:
        if self.tag.get("role"):
            return self.tag["role"].split()[0]
        name = self.tag.name
        if name == "a":
            return "link" if self.tag.has_attr("href") else None
        if name == "input":
            return _INPUT_ROLES.get((self.tag.get("type") or "text").lower())
        if name == "th":
            scope = self.tag.get("scope")
            if scope == "row":
                return "rowheader"
            return "columnheader" if scope == "col" or self.tag.find_parent("thead") else "cell"
        if name in ("header", "footer"):
            if any(parent.name in _SECTIONING for parent in self.tag.parents):
                return None
            return "banner" if name == "header" else "contentinfo"
        if name == "section" and not (self.tag.has_attr("aria-label") or self.tag.has_attr("aria-labelledby")):
            return None
        return _TAG_ROLES.get(name)

    @property
    def level(self) -> int | None:
        """A heading's level."""
        if self.tag.get("aria-level"):
            return int(self.tag["aria-level"])
        return int(self.tag.name[1]) if re.fullmatch(r"h[1-6]", self.tag.name) else None

    @property
    def name(self) -> str:
        """The accessible name."""
        tag = self.tag
        if tag.get("aria-labelledby"):
            return squash(" ".join(self._text_of_id(i) for i in tag["aria-labelledby"].split()))
        if tag.get("aria-label"):
            return squash(tag["aria-label"])
        if tag.name in ("input", "textarea", "select"):
            if tag.name == "input" and (tag.get("type") or "").lower() in ("submit", "button", "reset"):
                return squash(tag.get("value") or "")
            label = self._label_of(tag)
            if label is not None:
                return _content_name(label)
            return squash(tag.get("title") or tag.get("placeholder") or "")
        if tag.name == "table" and tag.caption is not None:
            return _content_name(tag.caption)
        if tag.name == "img":
            return squash(tag.get("alt") or "")
        if self.role in _NAMED_FROM_CONTENT or tag.name == "summary":
            return _content_name(tag)
        return squash(tag.get("title") or "")

    def _text_of_id(self, element_id: str) -> str:
        found = self._root.find(id=element_id)
        return _content_name(found) if found is not None else ""

    def _label_of(self, control: Tag) -> Tag | None:
        if control.get("id"):
            label = self._root.find("label", attrs={"for": control["id"]})
            if label is not None:
                return label
        return control.find_parent("label")

    # --- finding what is inside ----------------------------------------------------------

    def _wrap(self, tag: Tag) -> Element:
        return Element(tag, self._root)

    def _descendants(self) -> Iterator[Element]:
        for tag in self.tag.find_all(True):
            yield self._wrap(tag)

    def find_id(self, element_id: str) -> Element | None:
        found = self.tag.find(id=element_id)
        return self._wrap(found) if found is not None else None

    def by_id(self, element_id: str | uuid.UUID) -> Element:
        found = self.find_id(str(element_id))
        assert found is not None, f"no element has the id {element_id!r}"
        return found

    def by_role(self, role: str, name: Name = None, *, level: int | None = None, **attributes: Value) -> list[Element]:
        """Every element with this role (and name, heading level and
        attributes, as for ``having``), in page order."""
        return [
            element
            for element in self.having(**attributes)
            if element.role == role and (level is None or element.level == level) and _matches(element.name, name)
        ]

    def having(self, **attributes: Value) -> list[Element]:
        """Every element with these attributes: a ``str`` is the exact value,
        a regex is searched for, ``True`` asks only that it be there.
        ``hx_post="/c/…"`` stands for ``hx-post``, ``class_`` for ``class``."""
        wanted = {key.rstrip("_").replace("_", "-"): value for key, value in attributes.items()}
        return [
            element
            for element in self._descendants()
            if all(_attribute_matches(element.get(key), value) for key, value in wanted.items())
        ]

    def one(self, role: str, name: Name = None, **filters) -> Element:
        """The only element with this role (and name …); fails if none or several."""
        found = self.by_role(role, name, **filters)
        assert len(found) == 1, f"{len(found)} elements are {role} {name or ''} {filters or ''}: {found}"
        return found[0]

    def by_label(self, label: Name) -> Element:
        """The form control whose label (or aria-label) is ``label``."""
        controls = (e for e in self._descendants() if e.tag.name in ("input", "textarea", "select"))
        found = [control for control in controls if _matches(control.name, label)]
        assert len(found) == 1, f"{len(found)} form controls are labelled {label!r}: {found}"
        return found[0]

    def by_text(self, text: Name) -> list[Element]:
        """The innermost elements whose text is ``text``."""
        found = [e for e in self._descendants() if _matches(e.text, text)]
        holders = {id(parent) for e in found for parent in e.tag.parents}
        return [e for e in found if id(e.tag) not in holders]

    def has_text(self, text: str | re.Pattern[str]) -> bool:
        """Whether its text holds ``text`` (white space collapsed; a regex is searched for)."""
        return _matches(self.text, text) if isinstance(text, re.Pattern) else squash(text) in self.text

    def texts(self, role: str, **filters) -> list[str]:
        """The text of every element with this role (and attributes)."""
        return [element.text for element in self.by_role(role, **filters)]

    def closest(self, role: str) -> Element:
        """This element or the nearest one around it with this role."""
        for tag in [self.tag, *self.tag.parents]:
            if tag.name and self._wrap(tag).role == role:
                return self._wrap(tag)
        raise AssertionError(f"nothing around {self!r} is a {role}")

    @property
    def columns(self) -> dict[str, Element]:
        """A table row's cells by the text of their column headers."""
        table = self.tag.find_parent("table")
        assert table is not None, f"{self!r} is not in a table"
        headers = self._wrap(table).texts("columnheader")
        cells = [self._wrap(cell) for cell in self.tag.find_all(["th", "td"], recursive=False)]
        assert len(cells) == len(headers), f"{len(cells)} cells under {len(headers)} column headers"
        return dict(zip(headers, cells, strict=True))

    @property
    def top(self) -> Element:
        """The first element: what an htmx partial starts with."""
        first = self.tag.find(True)
        assert first is not None, "no element at all"
        return self._wrap(first)


def _content_name(tag: Tag) -> str:
    """The text of ``tag`` that a screen reader reads: ``aria-hidden`` left out."""
    parts = []
    for piece in tag.descendants:
        # Text only: not comments, nor the code inside <script> or <style>.
        if type(piece) is NavigableString and not any(p.get("aria-hidden") == "true" for p in piece.parents):
            parts.append(str(piece))
    return squash("".join(parts))


def parse(markup: str) -> Element:
    """A page or an htmx partial, parsed as a browser would."""
    soup = BeautifulSoup(markup, "html.parser")
    return Element(soup)


# --- what the pages hold ---------------------------------------------------------------


def sidebar_titles(markup: str) -> list[str]:
    """The titles of the threads in a sidebar (page, partial or htmx answer), in order."""
    return [
        item.by_role("link")[0].text
        for item in parse(markup).by_role("listitem")
        if (item.get("id") or "").startswith("thread-")
    ]


def thread_ids(markup: str) -> list[uuid.UUID]:
    """The threads in an admin table, in order."""
    return [
        uuid.UUID(row["id"].removeprefix("conv-"))
        for row in parse(markup).by_role("row")
        if (row.get("id") or "").startswith("conv-")
    ]


def message_numbers(markup: str) -> list[int]:
    """The numbers of the messages shown ("Message 071" → 71), oldest first."""
    return [
        int(article.by_text(re.compile(r"^Message \d+$"))[0].text.split()[1])
        for article in parse(markup).by_role("article")
    ]


def csrf_token(markup: str) -> str:
    """The CSRF token a page's forms carry (every form of a page carries the same)."""
    tokens = {field["value"] for field in parse(markup).having(name="csrf_token", type="hidden")}
    assert len(tokens) == 1, f"the page's forms carry {len(tokens)} CSRF tokens"
    return tokens.pop()
