"""A Kafka Task's traceId header is the OpenTelemetry trace the instance was started in (with
temporalio's TracingInterceptor on the client), else an id generated per instance."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities._connections import tracing_interceptors
from tests.helpers import PublishedRequests, deploy, running_interpreter, start_process, wait_for
from tests.helpers.models import kafka_task_process


async def test_the_trace_id_header_is_the_trace_the_instance_started_in(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    deploy(kafka_task_process("traced"))
    provider = TracerProvider()
    tracer = provider.get_tracer("test")
    plain = time_skipping_env.client
    traced = Client(
        plain.service_client, namespace=plain.namespace, interceptors=tracing_interceptors()
    )
    published = PublishedRequests()
    async with running_interpreter(traced, task_queue, publish_activity=published.activity()):
        with tracer.start_as_current_span("place order") as span:
            handle = await start_process(traced, task_queue, "traced", n=1)
        await wait_for(lambda s: s["awaiting_correlations"], handle)
        untraced = await start_process(plain, task_queue, "traced", n=2)
        await wait_for(lambda s: s["awaiting_correlations"], untraced)
        await handle.terminate("test over")
        await untraced.terminate("test over")
    trace_ids = [request["headers"]["traceId"] for request in published.requests]
    assert trace_ids[0] == format(span.get_span_context().trace_id, "032x")
    assert trace_ids[1] != trace_ids[0] and len(trace_ids[1]) == 32
    assert trace.get_current_span() is trace.INVALID_SPAN
