"""Kafka Task templates: a consumer's contract (topics, key, payload, defaults, required payload
fields), shipped once as a JSON file and referenced by name from models, as tSM recommends.

A template file::

    {
      "id": "currency-conversion",
      "name": "Convert currency",
      "version": 1,
      "kafkaTask": {
        "requestTopic": "currency-request",
        "responseTopic": "currency-response",
        "key": "#{execution.processBusinessKey}",
        "payload": "#{#variables.conversion}",
        "defaults": {"sourceCurrency": "USD"},
        "required": ["amount", "sourceCurrency", "targetCurrency"]
      }
    }

A receive task uses it with the attribute the Camunda Modeler writes when it applies an element
template, ``camunda:modelerTemplate="currency-conversion"`` (or ``zeebe:modelerTemplate``), with
or without a ``#{tsmKafkaTaskExecutor}`` listener: a listener field set in the model overrides the
template's. Pure: the caller reads the files and passes their bytes.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from translator._errors import Problem, TranslationError


class _Template(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class KafkaTaskContract(_Template):
    request_topic: str | None = Field(default=None, alias="requestTopic")
    response_topic: str | None = Field(default=None, alias="responseTopic")
    key: str | None = None
    payload: str | None = None
    """A tSM field value: ``#{...}`` SpEL, ``${...}`` JUEL, else a literal."""
    defaults: dict[str, Any] = Field(default_factory=dict)
    """Payload fields the consumer expects, used when the payload leaves them out."""
    required: tuple[str, ...] = ()
    """Payload fields the consumer needs: a payload without one is an incident, not a request."""


class KafkaTaskTemplate(_Template):
    id: str = Field(min_length=1)
    name: str | None = None
    version: int | None = None
    kafka_task: KafkaTaskContract = Field(alias="kafkaTask")


def parse_template(data: bytes, name: str) -> KafkaTaskTemplate:
    """A template from the bytes of a JSON file (``name`` is used in messages)."""
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise TranslationError([Problem(name, f"template is not JSON: {error}")]) from None
    try:
        return KafkaTaskTemplate.model_validate(raw)
    except ValidationError as error:
        problems = [
            Problem(name, f"template {'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}")
            for e in error.errors()
        ]
        raise TranslationError(problems) from None
