"""Rules for text that people type: one-line names, search words, LIKE patterns.

Written once here and used by the data layer, the forms and the API, so each
refuses the same things with the same words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from webapp.errors import InvalidInput

# PostgreSQL cannot store NUL in text; refuse it on every database alike.
NUL_MESSAGE = "Text cannot contain NUL (\\x00) characters."

# Letters and marks that show as nothing: the Hangul fillers, the blank
# Braille pattern, the combining grapheme joiner and the variation selectors.
_BLANK_CHARACTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f") | frozenset(
    map(chr, [*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)])
)


def is_blank(text: str) -> bool:
    """Whether ``text`` shows nothing: only white space, control and
    formatting characters (zero-width spaces and joiners, direction marks,
    soft hyphens…) and the few letters that are drawn as blanks."""
    return all(
        char.isspace() or char in _BLANK_CHARACTERS or unicodedata.category(char) in ("Cc", "Cf") for char in text
    )


def clean_line(value: object, field: str, *, maximum: int, empty: str) -> str:
    """One line of text, white space folded: a title, a name. ``empty`` is
    the message for a value with nothing left in it."""
    if not isinstance(value, str):
        raise InvalidInput(field, f"The {field} must be text.")
    if "\x00" in value:
        raise InvalidInput(field, NUL_MESSAGE)
    value = " ".join(value.split())
    if is_blank(value):
        raise InvalidInput(field, empty)
    if len(value) > maximum:
        raise InvalidInput(field, f"The {field} can be at most {maximum} characters (it has {len(value)}).")
    return value


def search_words(query: str | None, *, max_length: int, max_words: int, field: str = "q") -> list[str]:
    """The distinct words of a search, lower-cased, in order.

    A query over ``max_length`` characters or ``max_words`` words is refused
    with a message naming the limit.
    """
    query = (query or "").strip()
    if len(query) > max_length:
        raise InvalidInput(field, f"Search for at most {max_length} characters.")
    words = list(dict.fromkeys(word.lower() for word in query.split()))
    if len(words) > max_words:
        raise InvalidInput(field, f"Search for at most {max_words} words.")
    return words


def escape_like(text: str) -> str:
    """``text`` matched literally inside a LIKE pattern (escape character ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains(column, text: str, *, any_case: bool = True):
    """``column`` holds ``text`` literally (in any case, unless told otherwise)."""
    pattern = f"%{escape_like(text)}%"
    return column.ilike(pattern, escape="\\") if any_case else column.like(pattern, escape="\\")


# --- words, as search finds them -------------------------------------------------------------

# A word is a run of letters and digits (the full-text index's tokenizers cut
# text the same way: SQLite's unicode61, and PostgreSQL's text cut at
# everything else before it is parsed; see webapp.search_index).
WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> tuple[str, Sequence[int]]:
    """``text`` in lower case without accents (``Café`` → ``cafe``), and for
    each character of that the index of the character of ``text`` it came
    from: matches found in the folded text are marked in the original.
    Plain ASCII is folded at once (a long log in a moment); other text a
    character at a time."""
    if text.isascii():
        return text.lower(), range(len(text))
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for part in unicodedata.normalize("NFKD", char):
            if unicodedata.combining(part):
                continue
            for lower in part.casefold():
                folded.append(lower)
                origin.append(index)
    return "".join(folded), origin


def first_term_match(text: str, terms) -> tuple[int, int] | None:
    """Where in ``text`` one of ``terms`` first stands whole (a term: a word,
    or the words of a phrase, which must follow one another), as search
    finds them: the ``(start, end)`` span, or None. One regular expression
    looks for them all in the folded text."""

    def word(folded: str, first: bool) -> str:
        # A whole word that starts with ``folded`` (of one character: is it).
        # The first of a term is looked for as it is, then behind it for the
        # start of a word: a literal is what the engine finds fastest.
        literal = re.escape(folded)
        starts = rf"(?<![^\W_]{literal})" if first else ""
        return literal + starts + (r"(?![^\W_])" if len(folded) == 1 else r"[^\W_]*")

    wanted = [r"[\W_]+".join(word(fold(each)[0], not n) for n, each in enumerate(term)) for term in terms if term]
    if not wanted:
        return None
    folded, origin = fold(text)
    found = re.search("|".join(wanted), folded)
    return (origin[found.start()], origin[found.end() - 1] + 1) if found else None


def word_matches(text: str, words: list[str]) -> list[tuple[int, int]]:
    """Where in ``text`` a word begins with one of ``words`` (any case,
    accents ignored; a word of one character matches only itself):
    ``(start, end)`` spans of the whole words, in order."""
    wanted = sorted({fold(word)[0] for word in words if word}, key=len, reverse=True)
    if not wanted:
        return []
    folded, origin = fold(text)
    spans = []
    for match in WORD.finditer(folded):
        found = match.group()
        if any(found == word if len(word) == 1 else found.startswith(word) for word in wanted):
            spans.append((origin[match.start()], origin[match.end() - 1] + 1))
    return spans
