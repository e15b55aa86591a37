"""Small BPMN models used by several tests."""

from tests.helpers.bpmn import chain, events, model

KAFKA_SEND_TASK = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d">
  <bpmn:process id="kafka-send" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sendTask id="publish_event" name="Publish order event">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="kafka" />
        <zeebe:taskHeaders>
          <zeebe:header key="kafka-topic" value="{topic}" />
          <zeebe:header key="kafka-key" value="orders" />
        </zeebe:taskHeaders>
        <zeebe:ioMapping>
          <zeebe:input source="=orderId" target="id" />
          <zeebe:input source="=amount * 2" target="doubled" />
        </zeebe:ioMapping>
      </bpmn:extensionElements>
    </bpmn:sendTask>
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="publish_event" />
    <bpmn:sequenceFlow id="f2" sourceRef="publish_event" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""

ERROR_BOUNDARIES = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d">
  <bpmn:error id="no_stock_error" errorCode="NO_STOCK" />
  <bpmn:process id="error-boundaries" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:serviceTask id="reserve">
      <bpmn:extensionElements><zeebe:taskDefinition type="reserve" /></bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:boundaryEvent id="on_no_stock" attachedToRef="reserve">
      <bpmn:errorEventDefinition errorRef="no_stock_error"
          camunda:errorCodeVariable="errorCode" camunda:errorMessageVariable="errorMessage" />
    </bpmn:boundaryEvent>
    <bpmn:boundaryEvent id="on_any_error" attachedToRef="reserve">
      <bpmn:errorEventDefinition />
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="reserved" />
    <bpmn:endEvent id="backordered" />
    <bpmn:endEvent id="failed" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="reserve" />
    <bpmn:sequenceFlow id="f2" sourceRef="reserve" targetRef="reserved" />
    <bpmn:sequenceFlow id="f3" sourceRef="on_no_stock" targetRef="backordered" />
    <bpmn:sequenceFlow id="f4" sourceRef="on_any_error" targetRef="failed" />
  </bpmn:process>
</bpmn:definitions>
"""


PAYMENT = (
    '<bpmn:message id="payment" name="payment-received"><bpmn:extensionElements>'
    '<zeebe:subscription correlationKey="=orderId" /></bpmn:extensionElements></bpmn:message>'
)
CATCH_PAYMENT = model(
    "await-payment",
    events("start", kind="startEvent"),
    '<bpmn:intermediateCatchEvent id="paid">'
    '<bpmn:messageEventDefinition messageRef="payment" /></bpmn:intermediateCatchEvent>',
    events("end"),
    chain("start", "paid", "end"),
    extra=PAYMENT,
)


def timer_started(process_id: str, cycle: str = "R2/PT2S") -> str:
    """A process started by a timer start event (a Temporal Schedule) every ``cycle``."""
    return model(
        process_id,
        '<bpmn:startEvent id="every_two_seconds"><bpmn:timerEventDefinition>'
        f"<bpmn:timeCycle>{cycle}</bpmn:timeCycle></bpmn:timerEventDefinition>"
        "</bpmn:startEvent>",
        events("end"),
        chain("every_two_seconds", "end"),
    )


def kafka_task_process(process_id: str, extra_elements: str = "", extra_flows: str = "") -> str:
    """start → a tSM Kafka Task ``ask`` (default topics, payload ``n``) → end ``answered``."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d">
  <bpmn:process id="{process_id}" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:receiveTask id="ask">
      <bpmn:extensionElements>
        <camunda:executionListener event="start" delegateExpression="#{{tsmKafkaTaskExecutor}}">
          <camunda:field name="payload" stringValue="#{{#variables.n}}" />
        </camunda:executionListener>
      </bpmn:extensionElements>
    </bpmn:receiveTask>
    {extra_elements}
    <bpmn:endEvent id="answered" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ask" />
    <bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="answered" />
    {extra_flows}
  </bpmn:process>
</bpmn:definitions>
"""
