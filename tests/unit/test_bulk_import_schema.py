"""The bulk-import row schema: what a customer record must look like, and the errors it reports."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from jobgate.jobtypes.bulk_import.schema import (
    COLUMNS,
    COUNTRY_CODES,
    CustomerRecord,
    InvalidHeader,
    parse_header,
    parse_row,
)

HEADER = list(COLUMNS)


def test_a_valid_row_becomes_a_typed_record() -> None:
    record = parse_row(HEADER, "Ann@Example.com, Ann Lee ,DE,2024-01-31,120.50\r\n", 2)
    assert record == CustomerRecord(
        email="ann@example.com",
        name="Ann Lee",
        country="DE",
        signupDate=date(2024, 1, 31),
        lifetimeValue=Decimal("120.50"),
    )


def test_columns_may_come_in_any_order() -> None:
    header = parse_header("country,email,lifetimeValue,name,signupDate\n")
    record = parse_row(header, "FR,a@b.fr,0,A,2020-02-29\n", 2)
    assert isinstance(record, CustomerRecord)
    assert record.country == "FR"


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ("nope,A,DE,2024-01-01,1\n", "email", "not a valid email address"),
        ("a@b.de,,DE,2024-01-01,1\n", "name", "String should have at least 1 character"),
        (f"a@b.de,{'x' * 201},DE,2024-01-01,1\n", "name", "String should have at most 200 characters"),
        ("a@b.de,A,de,2024-01-01,1\n", "country", "not an ISO 3166-1 alpha-2 country code (such as DE or US)"),
        ("a@b.de,A,UK,2024-01-01,1\n", "country", "not an ISO 3166-1 alpha-2 country code (such as DE or US)"),
        ("a@b.de,A,DE,01/02/2024,1\n", "signupDate", "not a date in YYYY-MM-DD form"),
        (
            "a@b.de,A,DE,2023-02-29,1\n",
            "signupDate",
            "Input should be a valid date or datetime, day value is outside expected range",
        ),
        ("a@b.de,A,DE,2024-01-01,-1\n", "lifetimeValue", "not an amount >= 0 with at most 2 decimals (such as 120.50)"),
        (
            "a@b.de,A,DE,2024-01-01,1.999\n",
            "lifetimeValue",
            "not an amount >= 0 with at most 2 decimals (such as 120.50)",
        ),
        (
            "a@b.de,A,DE,2024-01-01,1e3\n",
            "lifetimeValue",
            "not an amount >= 0 with at most 2 decimals (such as 120.50)",
        ),
        ("a@b.de,A,DE,2024-01-01\n", "", "expected 5 fields, found 4"),
        ('a@b.de,"A,DE,2024-01-01,1\n', "", "malformed CSV: unexpected end of data"),
        ("a@b.de,A\ufffd,DE,2024-01-01,1\n", "", "the line is not valid UTF-8"),
    ],
)
def test_each_invalid_value_is_reported_with_its_field(line: str, field: str, message: str) -> None:
    errors = parse_row(HEADER, line, 7)
    assert isinstance(errors, list)
    assert [(e.line, e.field, e.message) for e in errors] == [(7, field, message)]


def test_every_invalid_field_of_a_row_is_reported() -> None:
    errors = parse_row(HEADER, "x,,XX,2024-13-01,-5\n", 3)
    assert isinstance(errors, list)
    assert [e.field for e in errors] == ["email", "name", "country", "signupDate", "lifetimeValue"]


def test_the_country_list_is_iso_3166_alpha_2() -> None:
    assert len(COUNTRY_CODES) == 249
    assert {"DE", "US", "GB", "JP", "BR"} <= COUNTRY_CODES
    assert "UK" not in COUNTRY_CODES


@pytest.mark.parametrize(
    "line",
    [
        "email,name,country,signupDate\n",
        "email,name,country,signupDate,lifetimeValue,extra\n",
        "email,email,country,signupDate,lifetimeValue\n",
        '"unterminated\n',
    ],
)
def test_a_header_other_than_the_five_columns_is_refused(line: str) -> None:
    with pytest.raises(InvalidHeader):
        parse_header(line)
