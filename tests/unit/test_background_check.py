"""background-check: vendor callback signatures, the overall verdict, and the job input."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest
from pydantic import ValidationError

from jobgate.config import function_environment
from jobgate.jobtypes.background_check import JOB_TYPE, signing
from jobgate.jobtypes.background_check.models import BackgroundCheckInput, Finding, Vendor, overall_verdict

SECRET = "vsec_" + "k" * 40
BODY = b'{"vendor":"criminal","finding":"clear","reference":"chk_1"}'
NOW = 1_800_000_000
CANDIDATE = {"fullName": "Ada Lovelace", "dateOfBirth": "1815-12-10", "email": "ada@example.com"}


def test_the_signature_is_hmac_sha256_over_timestamp_callback_id_and_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.vcb_1.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signing.sign(SECRET, "vcb_1", BODY, timestamp=NOW) == f"t={NOW},v1={expected}"


def test_a_signed_callback_verifies() -> None:
    header = signing.sign(SECRET, "vcb_1", BODY, timestamp=NOW)
    assert signing.verify(SECRET, "vcb_1", BODY, header, now=NOW + 10)


@pytest.mark.parametrize(
    ("secret", "callback_id", "body", "now"),
    [
        pytest.param("vsec_" + "x" * 40, "vcb_1", BODY, NOW, id="other secret"),
        pytest.param(SECRET, "vcb_2", BODY, NOW, id="replayed to another callback"),
        pytest.param(SECRET, "vcb_1", BODY.replace(b"clear", b"record_found"), NOW, id="body changed"),
        pytest.param(SECRET, "vcb_1", BODY, NOW + signing.TOLERANCE_SECONDS + 1, id="too old"),
    ],
)
def test_a_signature_that_does_not_match_is_refused(secret: str, callback_id: str, body: bytes, now: int) -> None:
    header = signing.sign(secret, "vcb_1", BODY, timestamp=NOW)
    assert not signing.verify(SECRET, callback_id, body, header, now=now)


@pytest.mark.parametrize("header", [None, ""])
def test_a_missing_signature_is_refused(header: str | None) -> None:
    assert not signing.verify(SECRET, "vcb_1", BODY, header, now=NOW)


@pytest.mark.parametrize(
    "header",
    [
        "v1=abc",
        "t=abc,v1=abc",
        f"t={NOW}",
        "garbage",
        "t=\u00b2,v1=00",
        "t=" + "9" * 5000 + ",v1=00",
        f"t={NOW},v1=xyz",
    ],
)
def test_a_malformed_signature_is_told_apart_from_a_wrong_one(header: str) -> None:
    with pytest.raises(signing.MalformedSignature):
        signing.verify(SECRET, "vcb_1", BODY, header, now=NOW)


def test_without_a_configured_secret_nothing_verifies() -> None:
    assert not signing.verify("", "vcb_1", BODY, signing.sign("", "vcb_1", BODY, timestamp=NOW), now=NOW)


def test_the_verdict_is_clear_only_when_every_vendor_is_clear() -> None:
    assert overall_verdict(dict.fromkeys(Vendor, Finding.CLEAR)).verdict is Finding.CLEAR
    mixed = {Vendor.IDENTITY: Finding.CLEAR, Vendor.EMPLOYMENT: Finding.INCONCLUSIVE}
    assert overall_verdict(mixed).verdict is Finding.INCONCLUSIVE


def test_a_record_found_outweighs_an_inconclusive_vendor() -> None:
    findings = {Vendor.CRIMINAL: Finding.RECORD_FOUND, Vendor.EDUCATION: Finding.INCONCLUSIVE}
    assert overall_verdict(findings).verdict is Finding.RECORD_FOUND


def test_the_findings_are_listed_in_vendor_order() -> None:
    findings = {Vendor.EDUCATION: Finding.CLEAR, Vendor.IDENTITY: Finding.CLEAR}
    assert list(overall_verdict(findings).findings) == [Vendor.IDENTITY, Vendor.EDUCATION]


def test_the_input_defaults_to_every_vendor_and_the_deployment_timeout() -> None:
    with function_environment({"VENDOR_CHECK_TIMEOUT_SECONDS": "600"}):
        checked = BackgroundCheckInput.model_validate({"candidate": CANDIDATE})
    assert checked.checks == list(Vendor)
    assert checked.timeout_seconds == 600
    assert JOB_TYPE.step_names(checked) == ["identity", "criminal", "employment", "education"]


def test_a_timeout_above_the_deployment_bound_is_refused() -> None:
    with function_environment({"VENDOR_CHECK_TIMEOUT_SECONDS": "600"}), pytest.raises(ValidationError) as refused:
        BackgroundCheckInput.model_validate({"candidate": CANDIDATE, "timeoutSeconds": 601})
    assert refused.value.errors()[0]["loc"] == ("timeoutSeconds",)


@pytest.mark.parametrize(
    "checks", [[], ["identity", "identity"], ["credit"]], ids=["none", "duplicate", "unknown vendor"]
)
def test_the_checks_must_be_known_vendors_each_once(checks: list[str]) -> None:
    with pytest.raises(ValidationError):
        BackgroundCheckInput.model_validate({"candidate": CANDIDATE, "checks": checks})


def test_unknown_candidate_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        BackgroundCheckInput.model_validate({"candidate": {**CANDIDATE, "ssn": "1"}})


def test_the_documented_signature_pattern_matches_what_sign_writes() -> None:
    assert re.match(signing.SIGNATURE_PATTERN, signing.sign(SECRET, "vcb_1", BODY, timestamp=NOW))
