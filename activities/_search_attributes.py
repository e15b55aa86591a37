"""Registers the Keyword search attributes that let ``temporal workflow list --query`` find
instances by BPMN process id, definition hash and business key."""

from __future__ import annotations

import asyncio
import logging

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError

from workflows import SEARCH_ATTRIBUTES

logger = logging.getLogger(__name__)


async def ensure_search_attributes(client: Client, namespace: str) -> bool:
    """True when every attribute exists (adding missing ones if the server lets us).

    On a server where we may not add them (Temporal Cloud: add them in the console), instances
    still carry the same values in their memo; we log how to add them and go on.
    """
    try:
        missing = await _missing(client, namespace)
        if missing:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=namespace,
                    search_attributes={
                        name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for name in missing
                    },
                )
            )
            for _ in range(50):  # the server applies them asynchronously
                if not await _missing(client, namespace):
                    break
                await asyncio.sleep(0.1)
            logger.info("Added search attributes %s", ", ".join(missing))
    except RPCError as error:
        logger.warning(
            "Search attributes %s are not available (%s); instances keep the values in their "
            "memo. Add them with: temporal operator search-attribute create --name <name> "
            "--type Keyword",
            ", ".join(SEARCH_ATTRIBUTES),
            error.message,
        )
        return False
    return not await _missing(client, namespace)


async def search_attributes_available(client: Client, namespace: str) -> bool:
    """True when every attribute exists in ``namespace`` (nothing is added): whether a starter
    can set them."""
    try:
        return not await _missing(client, namespace)
    except RPCError:
        return False


async def _missing(client: Client, namespace: str) -> list[str]:
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    return [name for name in SEARCH_ATTRIBUTES if name not in listed.custom_attributes]
