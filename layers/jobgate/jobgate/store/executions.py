"""Executions: Step Functions runs of jobs. The execution name is always the job id."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions.client import SFNClient


@dataclass(frozen=True)
class ExecutionState:
    status: str
    """RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED or PENDING_REDRIVE."""
    cause: str | None


def execution_arn(state_machine_arn: str, job_id: str) -> str:
    """Derived, never stored: arn:...:stateMachine:<name> -> arn:...:execution:<name>:<job id>."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{job_id}"


class Executions:
    def __init__(self, client: SFNClient) -> None:
        self._client = client

    def start(self, state_machine_arn: str, job_id: str, execution_input: dict[str, Any]) -> str:
        """Start once: a repeat with the same job id finds the execution already there."""
        try:
            response = self._client.start_execution(
                stateMachineArn=state_machine_arn,
                name=job_id,
                input=json.dumps(execution_input, separators=(",", ":")),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ExecutionAlreadyExists":
                return execution_arn(state_machine_arn, job_id)
            raise
        return response["executionArn"]

    def describe(self, arn: str) -> ExecutionState | None:
        """The execution's status and cause; None when there is no such execution."""
        try:
            response = self._client.describe_execution(executionArn=arn)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ExecutionDoesNotExist":
                return None
            raise
        return ExecutionState(status=response["status"], cause=response.get("cause"))

    def stop(self, arn: str, cause: str) -> None:
        """Stop a Standard execution; one that has already ended (or never began) is fine."""
        try:
            self._client.stop_execution(executionArn=arn, error="JobCancelled", cause=cause)
        except ClientError as error:
            if error.response["Error"]["Code"] not in {"ExecutionDoesNotExist", "ExecutionNotStoppable"}:
                raise
