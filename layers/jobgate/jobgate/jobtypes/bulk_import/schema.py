"""The row schema of a bulk import: one customer record per CSV line."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, ValidationError

from jobgate.lazy import LazyModel

COLUMNS = ("email", "name", "country", "signupDate", "lifetimeValue")
MAX_MESSAGE_CHARS = 200

# ISO 3166-1 alpha-2, officially assigned codes (249).
_COUNTRY_CODE_TABLE = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
    BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
    EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
    HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
    LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
    NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
    TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""
COUNTRY_CODES = frozenset(_COUNTRY_CODE_TABLE.split())

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONEY = re.compile(r"^\d{1,12}(\.\d{1,2})?$")


def _email(value: str) -> str:
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("not a valid email address")
    return value.lower()


def _country(value: str) -> str:
    if value not in COUNTRY_CODES:
        raise ValueError("not an ISO 3166-1 alpha-2 country code (such as DE or US)")
    return value


def _signup_date(value: Any) -> Any:
    if isinstance(value, str) and not _DATE.match(value):
        raise ValueError("not a date in YYYY-MM-DD form")
    return value


def _money(value: Any) -> Any:
    if isinstance(value, str) and not _MONEY.match(value):
        raise ValueError("not an amount >= 0 with at most 2 decimals (such as 120.50)")
    return value


class CustomerRecord(LazyModel):
    """One row. Values arrive as CSV text; each has one accepted format, no guessing."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    email: Annotated[str, AfterValidator(_email)]
    name: str = Field(min_length=1, max_length=200)
    country: Annotated[str, AfterValidator(_country)]
    signup_date: Annotated[date, BeforeValidator(_signup_date)] = Field(alias="signupDate")
    lifetime_value: Annotated[Decimal, BeforeValidator(_money)] = Field(alias="lifetimeValue", ge=0)


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    message: str


class InvalidHeader(Exception):
    """The CSV's first line is not the expected header; nothing was read further."""


def parse_header(line: str) -> list[str]:
    try:
        names = [name.strip() for name in next(csv.reader([line], strict=True))]
    except (csv.Error, StopIteration):
        raise InvalidHeader("The first line is not a CSV header.") from None
    if sorted(names) != sorted(COLUMNS):
        raise InvalidHeader(
            f"The header must name the columns {', '.join(COLUMNS)} (in any order, each once); "
            f"found: {', '.join(names)[:300]}."
        )
    return names


def parse_row(header: list[str], line: str, line_number: int) -> CustomerRecord | list[RowError]:
    """A valid record, or the row's errors (one per invalid field)."""
    if "\ufffd" in line:
        return [RowError(line_number, "", "the line is not valid UTF-8")]
    try:
        values = next(csv.reader([line], strict=True))
    except (csv.Error, StopIteration) as error:
        return [RowError(line_number, "", f"malformed CSV: {error}"[:MAX_MESSAGE_CHARS])]
    if len(values) != len(header):
        return [RowError(line_number, "", f"expected {len(header)} fields, found {len(values)}")]
    try:
        return CustomerRecord.model_validate(dict(zip(header, values, strict=True)))
    except ValidationError as invalid:
        return [
            RowError(
                line_number,
                str(error["loc"][0]) if error["loc"] else "",
                _message(error["msg"]),
            )
            for error in invalid.errors()
        ]


def _message(message: str) -> str:
    return message.removeprefix("Value error, ")[:MAX_MESSAGE_CHARS]
