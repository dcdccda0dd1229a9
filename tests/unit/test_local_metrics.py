"""The local stack's metrics page: the functions' EMF lines, summed as CloudWatch would."""

from __future__ import annotations

import pytest

from jobgate.observability import EmfSink, Metric, shared_metrics
from jobgate_cli.local.metrics import LocalMetrics


def emf_output(capsys: pytest.CaptureFixture[str]) -> list[bytes]:
    return [line.encode() for line in capsys.readouterr().out.splitlines()]


def test_each_metric_is_summed_per_set_of_dimension_values(capsys: pytest.CaptureFixture[str]) -> None:
    sink = EmfSink(shared_metrics)
    sink.record({Metric.JOBS_SUCCEEDED: 1, Metric.JOB_DURATION: 4.0}, {"JobType": "demo"}, {"jobId": "job_1"})
    sink.record({Metric.JOBS_SUCCEEDED: 1, Metric.JOB_DURATION: 2.0}, {"JobType": "demo"}, {"jobId": "job_2"})
    sink.record({Metric.JOBS_SUCCEEDED: 1, Metric.JOB_DURATION: 9.0}, {"JobType": "bulk-import"}, {})
    sink.record({Metric.WEBHOOK_RETRIES_SCHEDULED: 1}, {}, {})
    sink.record({Metric.WEBHOOK_RETRIES_SCHEDULED: 1}, {}, {})
    shared_metrics().flush_metrics()  # the handler's log_metrics: one line for both retries
    metrics = LocalMetrics()
    for line in [b'{"level":"INFO","message":"not a metric"}', *emf_output(capsys)]:
        metrics.on_function_line("jobgate-demo-step", line)

    by_key = {(m["name"], tuple(sorted(m["dimensions"].items()))): m for m in metrics.snapshot()["metrics"]}
    demo = (("JobType", "demo"), ("service", "jobgate"))
    assert by_key[("JobDuration", demo)] == {
        "namespace": "jobgate",
        "name": "JobDuration",
        "dimensions": dict(demo),
        "unit": "Seconds",
        "samples": 2,
        "sum": 6.0,
        "minimum": 2.0,
        "maximum": 4.0,
        "average": 3.0,
    }
    assert by_key[("JobsSucceeded", (("JobType", "bulk-import"), ("service", "jobgate")))]["sum"] == 1
    assert by_key[("WebhookRetriesScheduled", (("service", "jobgate"),))]["samples"] == 2
    assert len(by_key) == 5
    summary = metrics.summary_line()
    assert "JobsSucceeded{demo}=2" in summary
    assert "JobDuration{demo}~3 seconds" in summary
    assert "WebhookRetriesScheduled=2" in summary


def test_a_line_that_only_looks_like_emf_is_skipped() -> None:
    metrics = LocalMetrics()
    metrics.on_function_line("f", b'{"_aws": "truncated')
    metrics.on_function_line("f", b'{"_aws":{"Timestamp":1}}')
    assert metrics.snapshot()["metrics"] == []
    assert metrics.summary_line() == "metrics: none yet"
