"""Padmé length padding (threat-model property 13: ciphertext sizes reveal only a bucket).

Padmé is from Nikitin et al., "Reducing Metadata Leakage from Encrypted Files and
Communication with PURBs" (PETS 2019). For a length ``L >= 2`` with
``E = floor(log2 L)`` and ``S = floor(log2 E) + 1``, the low ``E - S`` bits of ``L``
are rounded up, so a padded length has at most ``S`` significant bits after its
leading one. There are only O(log log L) distinct sizes per power of two, which hides
most of the length while the overhead stays below 12 % (worst case 15/129, about
11.6 %, at ``L = 129``; under 6.25 % from ``L = 256`` on).

Small values get a floor on top: everything under :data:`PAD_FLOOR` bytes is padded
to exactly that, so a short name, a phone number or a two-line message all look the
same. The floor is part of the stored formats (readers check that a padded length is
canonical), so it is a constant here, not a setting.
"""

from __future__ import annotations

__all__ = ["PAD_FLOOR", "padded_size", "padme"]

PAD_FLOOR = 512


def padme(length: int) -> int:
    """The Padmé bucket of ``length``: the smallest padded length ``>= length``."""
    if length < 0:
        raise ValueError("a length cannot be negative")
    if length < 2:
        return length  # log2 is undefined (0) or 0 (1): nothing to round
    e = length.bit_length() - 1  # floor(log2 L)
    s = e.bit_length()  # floor(log2 E) + 1, for E >= 1
    mask = (1 << (e - s)) - 1
    return (length + mask) & ~mask


def padded_size(length: int, floor: int = PAD_FLOOR) -> int:
    """``padme(length)``, but at least ``floor`` (the size every short value shares)."""
    return max(floor, padme(length))
