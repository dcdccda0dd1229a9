"""Vendor callbacks (background-check): a task token is handed out once, whatever the vendor repeats."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from jobgate import aws
from jobgate.domain.status import JobStatus
from jobgate.jobtypes.background_check import signing
from jobgate.jobtypes.background_check.models import Vendor
from jobgate.jobtypes.background_check.resume import (
    BadSignature,
    CallbackResumer,
    CheckNoLongerWaiting,
    InvalidVendorAnswer,
    ResumeOutcome,
    ResumeUnavailable,
)
from jobgate.jobtypes.background_check.store import CallbackAlreadyAnswered, UnknownCallback, VendorCallbackStore
from jobgate_cli.local.resources import generated_secrets
from tests.api import ApiClient, ApiResponse
from tests.conftest import JOBS_TABLE, TEMPLATE

SECRET = "vsec_" + "s" * 40
ANSWER = {"vendor": "identity", "finding": "clear", "reference": "chk_9"}


class FakeStepFunctions:
    """Records SendTaskSuccess calls; raises `error_code` as AWS would when set."""

    def __init__(self, error_code: str | None = None) -> None:
        self.error_code = error_code
        self.resumed: list[tuple[str, dict[str, Any]]] = []

    def send_task_success(self, taskToken: str, output: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        if self.error_code:
            raise ClientError({"Error": {"Code": self.error_code, "Message": "no"}}, "SendTaskSuccess")
        self.resumed.append((taskToken, json.loads(output)))
        return {}


@pytest.fixture
def store(aws_backend: None) -> VendorCallbackStore:
    return VendorCallbackStore(boto3.client("dynamodb"), JOBS_TABLE)


def resumer(
    store: VendorCallbackStore, sfn: FakeStepFunctions, job_status: JobStatus | None = JobStatus.RUNNING
) -> CallbackResumer:
    return CallbackResumer(store, sfn, SECRET, lambda _job_id: job_status)  # type: ignore[arg-type]


def resume(
    store: VendorCallbackStore,
    sfn: FakeStepFunctions,
    callback_id: str,
    answer: dict[str, Any],
    job_status: JobStatus | None = JobStatus.RUNNING,
) -> Any:
    body = json.dumps(answer).encode()
    signature = signing.sign(SECRET, callback_id, body)
    return resumer(store, sfn, job_status).resume(callback_id, body, signature)


def test_a_callback_is_claimed_once(store: VendorCallbackStore) -> None:
    callback_id = store.register("job_1", Vendor.IDENTITY, "token-1", timeout_seconds=60)
    assert store.claim(callback_id).task_token == "token-1"
    with pytest.raises(CallbackAlreadyAnswered):
        store.claim(callback_id)


def test_an_unknown_callback_is_not_found(store: VendorCallbackStore) -> None:
    with pytest.raises(UnknownCallback):
        store.claim("vcb_never-issued")


def test_a_signed_answer_resumes_the_workflow_once(store: VendorCallbackStore) -> None:
    callback_id = store.register("job_1", Vendor.IDENTITY, "token-1", timeout_seconds=60)
    sfn = FakeStepFunctions()
    assert resume(store, sfn, callback_id, ANSWER) is ResumeOutcome.RESUMED
    assert resume(store, sfn, callback_id, ANSWER) is ResumeOutcome.DUPLICATE
    assert sfn.resumed == [("token-1", ANSWER)]


def test_a_bad_signature_resumes_nothing_and_leaves_the_callback_open(store: VendorCallbackStore) -> None:
    callback_id = store.register("job_1", Vendor.IDENTITY, "token-1", timeout_seconds=60)
    sfn = FakeStepFunctions()
    body = json.dumps(ANSWER).encode()
    forged = signing.sign("vsec_" + "f" * 40, callback_id, body)
    with pytest.raises(BadSignature):
        resumer(store, sfn).resume(callback_id, body, forged)
    assert resume(store, sfn, callback_id, ANSWER) is ResumeOutcome.RESUMED


def test_an_answer_from_the_wrong_vendor_is_refused_and_the_callback_stays_open(store: VendorCallbackStore) -> None:
    callback_id = store.register("job_1", Vendor.IDENTITY, "token-1", timeout_seconds=60)
    sfn = FakeStepFunctions()
    with pytest.raises(InvalidVendorAnswer):
        resume(store, sfn, callback_id, {**ANSWER, "vendor": "criminal"})
    assert resume(store, sfn, callback_id, ANSWER) is ResumeOutcome.RESUMED


@pytest.mark.parametrize("code", ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"])
def test_an_answer_after_the_check_ended_is_too_late(store: VendorCallbackStore, code: str) -> None:
    callback_id = store.register("job_1", Vendor.IDENTITY, "token-1", timeout_seconds=60)
    with pytest.raises(CheckNoLongerWaiting):
        resume(store, FakeStepFunctions(code), callback_id, ANSWER)


@pytest.mark.parametrize("status", [JobStatus.CANCELLING, JobStatus.CANCELLED, JobStatus.FAILED, None])
def test_an_answer_for_a_job_no_longer_running_is_too_late(store: VendorCallbackStore, status: JobStatus) -> None:
    # The job was cancelled while its execution still waits for the token (moto stops it only
    # when the task times out; AWS can lag too): the answer must not resume anything.
    callback_id = store.register("job_1", Vendor.IDENTITY, "token-1", timeout_seconds=60)
    sfn = FakeStepFunctions()
    with pytest.raises(CheckNoLongerWaiting):
        resume(store, sfn, callback_id, ANSWER, job_status=status)
    assert sfn.resumed == []


def test_a_passing_step_functions_error_lets_the_vendor_try_again(store: VendorCallbackStore) -> None:
    callback_id = store.register("job_1", Vendor.IDENTITY, "token-1", timeout_seconds=60)
    with pytest.raises(ResumeUnavailable):
        resume(store, FakeStepFunctions("ThrottlingException"), callback_id, ANSWER)
    sfn = FakeStepFunctions()
    assert resume(store, sfn, callback_id, ANSWER) is ResumeOutcome.RESUMED
    assert sfn.resumed == [("token-1", ANSWER)]


# ---------------------------------------------------------------- the secret, from Secrets Manager


@pytest.fixture
def vendor_secret(aws_backend: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The template's VendorCallbackSecret made as the local stack makes it, its ARN given to the API."""
    value = generated_secrets(TEMPLATE)["VendorCallbackSecret"]
    arn = boto3.client("secretsmanager").create_secret(Name="vendor-callback", SecretString=value)["ARN"]
    monkeypatch.setenv("VENDOR_CALLBACK_SECRET_ARN", arn)
    return value


def post_signed(secret: str, callback_id: str = "vcb_unknown") -> ApiResponse:
    body = json.dumps(ANSWER)
    headers = {
        "content-type": "application/json",
        "x-vendor-signature": signing.sign(secret, callback_id, body.encode()),
    }
    return ApiClient(None).request("POST", f"/vendor-callbacks/{callback_id}", raw_body=body, headers=headers)


def test_the_template_generates_a_long_alphanumeric_secret() -> None:
    first, second = (
        generated_secrets(TEMPLATE)["VendorCallbackSecret"],
        generated_secrets(TEMPLATE)["VendorCallbackSecret"],
    )
    assert len(first) == 64
    assert first.isalnum()
    assert first != second


def test_a_callback_signed_with_the_secret_in_secrets_manager_is_verified(vendor_secret: str) -> None:
    # Past the signature check: the callback id is unknown (404), not the signature (401).
    assert post_signed(vendor_secret).status == 404
    assert post_signed("x" * 64).status == 401


def test_the_secret_is_read_once_per_warm_function_not_per_callback(
    vendor_secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    real = aws.secretsmanager().get_secret_value

    def counting(**kwargs: Any) -> Any:
        reads.append(kwargs["SecretId"])
        return real(**kwargs)

    monkeypatch.setattr(aws.secretsmanager(), "get_secret_value", counting)
    for _ in range(3):
        assert post_signed(vendor_secret).status == 404
    assert len(reads) == 1


def test_a_throttled_secrets_manager_is_a_503_not_a_500(vendor_secret: str) -> None:
    with Stubber(aws.secretsmanager()) as stubber:
        for _ in range(3):  # botocore's attempts are the stub's too
            stubber.add_client_error("get_secret_value", "ThrottlingException", http_status_code=400)
        answer = post_signed(vendor_secret)
    assert answer.status == 503
    assert answer.json["type"] == "urn:jobgate:problem:service-unavailable"
