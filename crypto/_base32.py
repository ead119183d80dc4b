"""Crockford base32 helpers shared by receipts and recovery keys (internal).

Alphabet: ``0123456789ABCDEFGHJKMNPQRSTVWXYZ`` (32 symbols, 5 bits each; no I, L,
O or U). Bytes are encoded big-endian, most significant bit first; when the bit
count is not a multiple of 5 the last symbol is padded with zero bits, and the
decoder rejects non-zero padding so every value has exactly one encoding.

Normalisation is deliberately generous, because the people typing these codes
may be reading them off paper on a Cyrillic keyboard layout: NFKC (full-width
digits), upper case, whitespace, ``-`` and ``_`` removed, ``O`` -> ``0``,
``I``/``L`` -> ``1`` (Crockford's rules), and Cyrillic letters that look like
Latin ones mapped to them. Mapping can never turn a correctly typed code into a
wrong one, because a correct code contains only alphabet symbols.
"""

from __future__ import annotations

import unicodedata

from crypto.errors import FormatError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}

# Applied after upper-casing. Cyrillic capitals that are visually identical (or
# nearly) to a Latin letter or digit; Belarusian І and Ў included.
_CONFUSABLES = str.maketrans(
    {
        "O": "0",
        "I": "1",
        "L": "1",
        "\u0410": "A",  # А
        "\u0412": "B",  # В
        "\u0415": "E",  # Е
        "\u0417": "3",  # З
        "\u041a": "K",  # К
        "\u041c": "M",  # М
        "\u041d": "H",  # Н
        "\u041e": "0",  # О
        "\u0420": "P",  # Р
        "\u0421": "C",  # С
        "\u0422": "T",  # Т
        "\u0423": "Y",  # У
        "\u040e": "Y",  # Ў
        "\u0425": "X",  # Х
        "\u0406": "1",  # І (Belarusian/Ukrainian)
    }
)
_SEPARATORS = str.maketrans("", "", "-_")


def normalise(text: str) -> str:
    """Return ``text`` upper-cased, without separators, confusables mapped.

    The result is not yet validated against the alphabet; see :func:`check`.
    """
    text = unicodedata.normalize("NFKC", text)
    text = "".join(text.split())  # drops every kind of Unicode whitespace
    return text.upper().translate(_SEPARATORS).translate(_CONFUSABLES)


# Letters Crockford base32 leaves out and that normalise() does not map, with what a
# person most likely meant (Crockford reserves U; V is its neighbour in shape and order).
_NOT_USED = {"U": "V"}


def place(index: int, group_size: int | None) -> str:
    """Where the symbol at 0-based ``index`` is, in the words a person checking a grouped
    paper copy uses ("group 5, symbol 3"), or its position when the text is not grouped."""
    if group_size is None:
        return f"character {index + 1}"
    return f"group {index // group_size + 1}, symbol {index % group_size + 1}"


def describe_symbol(char: str) -> str:
    """Why ``char`` is not a symbol, and what was probably meant. Only a character outside
    the alphabet is named: it cannot be part of the secret."""
    if char in _NOT_USED:
        return f"{char} is not used (did you mean {_NOT_USED[char]}?)"
    if char.isascii() and char.isprintable():
        return f"{char!r} is not a symbol of these codes (0-9 and A-Z without I, L, O, U)"
    return ("a character that is not a Latin letter or digit (is the keyboard on another "
            "layout?)")


def check(text: str, what: str, group_size: int | None = None) -> None:
    """Raise :class:`FormatError` unless every character is in the alphabet.

    The message says where the first wrong character is and why it is wrong; the valid
    symbols of the text are never echoed, since the text may be a secret.
    """
    for index, char in enumerate(text):
        if char not in _INDEX:
            raise FormatError(f"{what}: {place(index, group_size)}: {describe_symbol(char)}")


def padding_symbols(nbytes: int) -> str:
    """The symbols the last position may hold for ``nbytes`` bytes (its padding bits are 0)."""
    pad = 5 * -(-8 * nbytes // 5) - 8 * nbytes
    return "".join(c for i, c in enumerate(ALPHABET) if not i & ((1 << pad) - 1))


def encode(data: bytes) -> str:
    """Encode ``data`` as ``ceil(8 * len(data) / 5)`` symbols."""
    nbits = 8 * len(data)
    nchars = -(-nbits // 5)
    value = int.from_bytes(data, "big") << (5 * nchars - nbits)
    return "".join(ALPHABET[(value >> (5 * (nchars - 1 - i))) & 31] for i in range(nchars))


def decode(text: str, nbytes: int, what: str) -> bytes:
    """Decode canonical symbols (see :func:`normalise`) into exactly ``nbytes`` bytes."""
    nbits = 8 * nbytes
    nchars = -(-nbits // 5)
    if len(text) != nchars:
        raise FormatError(f"{what}: expected {nchars} symbols, got {len(text)}")
    check(text, what)
    value = 0
    for char in text:
        value = (value << 5) | _INDEX[char]
    pad = 5 * nchars - nbits
    if value & ((1 << pad) - 1):
        allowed = " or ".join(padding_symbols(nbytes))
        raise FormatError(f"{what}: symbol {nchars} can only be {allowed} (its last {pad} "
                          "bits are always zero); check it for a typing mistake")
    return (value >> pad).to_bytes(nbytes, "big")


def group(text: str, size: int = 4) -> str:
    """Split ``text`` into dash-separated groups of ``size`` symbols."""
    return "-".join(text[i : i + size] for i in range(0, len(text), size))
