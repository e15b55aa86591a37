"""Small BPMN models used by several tests."""

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
