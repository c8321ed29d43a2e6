"""GSTIN and PAN: normalised, then validated with python-stdnum and Udyog's own state table.

stdnum 2.2's ``gstin.validate`` rejects the state codes 38, 97 and 99, so
the checksum (Luhn mod 36) and the PAN are checked with stdnum's parts and
the state with :data:`udyog_gst.data.STATES`.
"""

from __future__ import annotations

import re

from stdnum import luhn
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.in_ import pan as stdnum_pan

from .data import STATES

GSTIN_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_GSTIN_FORMAT = re.compile(r"^[0-9]{2}[A-Z]{5}[0-9]{4}[A-Z][1-9A-Z]Z[0-9A-Z]$")
_PAN_FORMAT = re.compile(r"^[A-Z]{5}[0-9]{4}[A-Z]$")
#: The PAN's 4th character: the holder type.
PAN_HOLDER_TYPES = frozenset("PCHFATBLJG")


class IdentifierError(ValueError):
    """An identifier that fails a rule; the message says which."""


def normalise(value: str) -> str:
    """Strip spaces and ``-``, upper-case (what is stored)."""
    return re.sub(r"[\s\-]", "", value or "").upper()


def validate_pan(value: str) -> str:
    """The normalised PAN, or :class:`IdentifierError` naming the rule it breaks."""
    number = normalise(value)
    if len(number) != 10:
        raise IdentifierError(f"a PAN has 10 characters, not {len(number)}")
    if not _PAN_FORMAT.match(number):
        raise IdentifierError("a PAN is 5 letters, 4 digits and a letter")
    if number[3] not in PAN_HOLDER_TYPES:
        raise IdentifierError(f"the 4th character of a PAN is a holder type ({', '.join(sorted(PAN_HOLDER_TYPES))})")
    try:
        stdnum_pan.validate(number)
    except StdnumError as exc:
        raise IdentifierError(f"not a valid PAN ({exc.message})") from None
    return number


def validate_gstin(value: str) -> str:
    """The normalised GSTIN, or :class:`IdentifierError` naming the rule it breaks."""
    number = normalise(value)
    if len(number) != 15:
        raise IdentifierError(f"a GSTIN has 15 characters, not {len(number)}")
    if number[:2] not in STATES:
        raise IdentifierError(f"{number[:2]} is not a GST state code")
    if not _GSTIN_FORMAT.match(number):
        if number[12] == "0":
            raise IdentifierError("the entity number (13th character) is 1-9 or A-Z, never 0")
        if number[13] != "Z":
            raise IdentifierError("the 14th character of a GSTIN is Z")
        raise IdentifierError("a GSTIN is a state code, a PAN, an entity number, Z and a check character")
    try:
        validate_pan(number[2:12])
    except IdentifierError as exc:
        raise IdentifierError(f"characters 3 to 12 are not a valid PAN: {exc}") from None
    try:
        luhn.validate(number, GSTIN_ALPHABET)
    except StdnumError:
        raise IdentifierError("the check character (15th) does not match") from None
    return number


def check_character(first14: str) -> str:
    """The Luhn mod-36 check character completing a 14-character GSTIN prefix."""
    return luhn.calc_check_digit(normalise(first14), GSTIN_ALPHABET)


def state_of(gstin: str) -> str:
    """The state code of a (valid) GSTIN: its first two characters."""
    return gstin[:2]


def pan_of(gstin: str) -> str:
    """The PAN inside a (valid) GSTIN."""
    return gstin[2:12]
