"""Where moto departs from AWS in ways jobgate depends on, make it behave like AWS.

DynamoDB evaluates a ConditionExpression and applies the write as one atomic step, so of
two concurrent writers conditioned on the same version exactly one wins. moto 5.2.5 does
the check and the write without a lock: under threads both can win (measured: 5 of 20
trials of 8 racing writers let 2-3 win) and iteration can fail with "dictionary changed
size". The job status machine relies on that atomicity, so the in-process tests serialize
moto's DynamoDB requests (the local stack's DynamoDB is DynamoDB Local, which needs none of
this). Pinned moto: re-check these when upgrading it.
"""

from __future__ import annotations

import copy
import functools
import os
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from moto.core.common_models import BaseModel
from moto.core.models import botocore_stubber
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.models import ShardIterator

_DYNAMODB_LOCK = threading.RLock()
_PATCHED_MARKER = "_jobgate_atomic"


def make_dynamodb_requests_atomic() -> None:
    """Run each moto DynamoDB request under one lock (idempotent)."""
    original = DynamoHandler.call_action
    if getattr(original, _PATCHED_MARKER, False):
        return

    @functools.wraps(original)
    def call_action_atomically(self: DynamoHandler, *args: Any, **kwargs: Any) -> Any:
        with _DYNAMODB_LOCK:
            return original(self, *args, **kwargs)

    setattr(call_action_atomically, _PATCHED_MARKER, True)
    DynamoHandler.call_action = call_action_atomically  # type: ignore[method-assign]


def keep_stream_iterators_on_the_live_shard() -> None:
    """A cancelled TransactWriteItems must not strand DynamoDB Streams readers (idempotent).

    moto 5.2.5 rolls a cancelled transaction back by putting a deep copy of the table in
    place, stream shard included; iterators keep reading the old shard object and see no
    new record again, so a stream poller goes silent after the first conflicting write
    (parallel steps of one job race on it). Each read here follows the table's live shard.
    """
    original = ShardIterator.get
    if getattr(original, _PATCHED_MARKER, False):
        return

    @functools.wraps(original)
    def get_from_live_shard(self: ShardIterator, limit: int = 1000) -> dict[str, Any]:
        table = self.streams_backend.dynamodb.tables.get(self.stream_shard.table.name)
        live = table.stream_shard if table is not None else None
        if live is not None and live.id == self.stream_shard.id:
            self.stream_shard = live
        result: dict[str, Any] = original(self, limit)
        return result

    setattr(get_from_live_shard, _PATCHED_MARKER, True)
    ShardIterator.get = get_from_live_shard  # type: ignore[method-assign]


def stop_tracking_model_instances() -> None:
    """moto must not keep every object it ever made (idempotent).

    moto 5.2.5's `BaseModel.__new__` appends each model instance, copies included, to a
    class-level `instances_tracked` list that only `/moto-api/reset` clears; it feeds moto's
    dashboard, which the local stack does not serve. A long-running stack would hold every
    execution, message and object it ever saw. Untracked, they are freed with their last use.
    """
    if getattr(BaseModel.__new__, _PATCHED_MARKER, False):
        return

    def new_untracked(cls: type[BaseModel], *args: Any, **kwargs: Any) -> BaseModel:
        return object.__new__(cls)

    setattr(new_untracked, _PATCHED_MARKER, True)
    BaseModel.__new__ = new_untracked  # type: ignore[method-assign]


def speed_up_step_functions() -> None:
    """Keep moto's Step Functions engine from redoing per state what it can do once (idempotent).

    Measured with 16 clients on the local stack (py-spy, GIL samples of the stack's process):
    moto 5.2.5 parses the whole ASL definition with ANTLR for every execution (60-80 ms for
    jobgate's definitions), builds a new boto3 Lambda client for every Lambda task (tens of ms),
    and builds a new JSONPath parser (a yacc table) for every path it evaluates; together
    about 60 % of the process's time. Here a definition is parsed once and each execution gets
    a deep copy (4-7 ms; no parsed component is shared between executions), a Lambda client is
    reused per region and endpoint (boto3 clients are thread-safe), and each JSONPath is parsed
    once (parsed paths are immutable). Behaviour is unchanged: the same code runs on the same inputs.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.utils import json_path
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    if getattr(ExecutionWorker._get_evaluation_entrypoint, _PATCHED_MARKER, False):
        return
    parse_definition = ExecutionWorker._get_evaluation_entrypoint
    parsed: dict[str, Any] = {}
    parse_lock = threading.Lock()

    @functools.wraps(parse_definition)
    def parsed_once(self: ExecutionWorker) -> Any:
        definition = self._evaluation_details.state_machine_details.definition
        with parse_lock:
            program = parsed.get(definition)
        if program is None:
            program = parse_definition(self)
            with parse_lock:
                parsed[definition] = program
        return copy.deepcopy(program)

    setattr(parsed_once, _PATCHED_MARKER, True)
    ExecutionWorker._get_evaluation_entrypoint = parsed_once  # type: ignore[method-assign]

    json_path.parse = functools.lru_cache(maxsize=4096)(json_path.parse)  # type: ignore[attr-defined]

    make_client = lambda_eval_utils.boto_client_for  # type: ignore[attr-defined]
    clients: dict[tuple[Any, ...], Any] = {}
    clients_lock = threading.Lock()

    def reused_client(region: str, service: str, state_credentials: Any = None) -> Any:
        # moto's own function ignores the state's credentials; its endpoint follows MOTO_PORT.
        key = (region, service, os.environ.get("MOTO_PORT"), botocore_stubber.enabled)
        with clients_lock:
            client = clients.get(key)
            if client is None:
                client = clients[key] = make_client(region=region, service=service)
        return client

    lambda_eval_utils.boto_client_for = reused_client  # type: ignore[attr-defined]


EXPRESS_RESOURCE_NOT_VALID = "Invalid Arn: 'Resource type not valid in this context: express'"


def run_express_executions_as_aws_does() -> None:
    """Express executions as AWS runs them, not as Standard ones (idempotent).

    moto 5.2.5 treats an EXPRESS state machine's executions like STANDARD ones: a second
    StartExecution with the same name is refused or answered with the first execution, and
    DescribeExecution, GetExecutionHistory and StopExecution work on them. On AWS each
    StartExecution of an Express machine is a new execution, whatever its name (no
    idempotency), its ARN is `arn:...:express:<machine>:<name>:<id>`, and those three calls
    are refused with InvalidArn (docs/local-stack.md, "Express workflows").
    """
    from moto.stepfunctions.exceptions import InvalidArn
    from moto.stepfunctions.parser.api import StateMachineType
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    start = StepFunctionsParserBackend.start_execution
    if getattr(start, _PATCHED_MARKER, False):
        return

    @functools.wraps(start)
    def start_express_anew(
        self: StepFunctionsParserBackend,
        state_machine_arn: str,
        name: Any = None,
        execution_input: Any = None,
        trace_header: Any = None,
    ) -> Any:
        state_machine = self.describe_state_machine(state_machine_arn)
        if state_machine.type != "EXPRESS":
            return start(self, state_machine_arn, name, execution_input, trace_header)
        name = name or str(uuid.uuid4())
        # A snapshot of the definition, as moto's own start takes it (without the executions).
        snapshot = copy.deepcopy(
            state_machine, {id(state_machine.executions): [], id(state_machine.backend): state_machine.backend}
        )
        execution = Execution(
            name=name,
            sm_type=StateMachineType(state_machine.type),
            role_arn=snapshot.roleArn,
            exec_arn=f"arn:{self.partition}:states:{self.region_name}:{self.account_id}:express:"
            f"{state_machine.name}:{name}:{uuid.uuid4()}",
            account_id=self.account_id,
            region_name=self.region_name,
            state_machine=snapshot,  # type: ignore[arg-type] # what moto's own start passes
            start_date=datetime.now(tz=UTC),
            cloud_watch_logging_session=None,
            input_data=execution_input or "{}",
            trace_header=trace_header,
            activity_store={},
        )
        state_machine.executions.append(execution)  # type: ignore[arg-type] # as moto's own start does
        execution.start()
        return execution

    def refusing_express(original: Any) -> Any:
        @functools.wraps(original)
        def call(self: StepFunctionsParserBackend, execution_arn: str, *args: Any, **kwargs: Any) -> Any:
            if ":express:" in execution_arn:
                raise InvalidArn(EXPRESS_RESOURCE_NOT_VALID)
            return original(self, execution_arn, *args, **kwargs)

        return call

    setattr(start_express_anew, _PATCHED_MARKER, True)
    StepFunctionsParserBackend.start_execution = start_express_anew  # type: ignore[method-assign]
    for method in ("describe_execution", "stop_execution", "get_execution_history"):
        setattr(StepFunctionsParserBackend, method, refusing_express(getattr(StepFunctionsParserBackend, method)))
