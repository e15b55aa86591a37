"""Message correlation without visibility queries: one mailbox workflow per message name and
correlation key (workflow id ``mailbox_id(name, key)``).

Publishers and waiting instances reach the mailbox only by signal-with-start, which Temporal
makes atomic: the signal lands in the running mailbox or starts it. All state of one (name,
key) lives in that one workflow, whose signals are handled one at a time, so a publish and a
subscribe can never miss each other, whichever comes first:

- ``publish``: a message is handed to the oldest subscription, or buffered until its
  time-to-live ends (TTL 0: only waiting subscriptions get it, as in Zeebe). Each message
  correlates once. A message id seen within its message's TTL is ignored (also after that
  message correlated), so publishing is idempotent.
- ``subscribe``/``unsubscribe``: an instance starts or stops waiting.
- ``return``: an instance got a message for a wait that had just ended (say a timer won the
  race); the message goes back to the front of the buffer, so nothing is lost.

A delivery is a signal to the instance; if the instance is gone the message stays buffered.
A mailbox with nothing left to remember completes (a later signal-with-start opens a new
run); a busy one continues as new before its history grows long.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows._contracts import (
        MAILBOX_WORKFLOW,
        MESSAGE_SIGNAL,
        PUBLISH_SIGNAL,
        RETURN_SIGNAL,
        SUBSCRIBE_SIGNAL,
        UNSUBSCRIBE_SIGNAL,
        CorrelatedMessage,
        MessagePublication,
        MessageSubscription,
    )

CONTINUE_AS_NEW_AFTER_EVENTS = 2_000


@workflow.defn(name=MAILBOX_WORKFLOW)
class MessageMailbox:
    def __init__(self) -> None:
        self._messages: list[MessagePublication] = []
        self._subscriptions: list[MessageSubscription] = []
        self._seen_ids: dict[str, datetime] = {}
        self._changed = False

    @workflow.run
    async def run(self, state: dict[str, Any] | None = None) -> None:
        if state:
            self._restore(state)
        while True:
            self._forget_expired()
            await self._deliver()
            if not self._messages and not self._subscriptions and not self._seen_ids:
                # Temporal refuses the completion if a signal arrived meanwhile: none is lost.
                await workflow.wait_condition(workflow.all_handlers_finished)
                return
            if workflow.info().get_current_history_length() > CONTINUE_AS_NEW_AFTER_EVENTS:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._state())
            self._changed = False
            await workflow.wait_condition(lambda: self._changed, timeout=self._next_expiry())

    # --- signals ------------------------------------------------------------------------------

    @workflow.signal(name=PUBLISH_SIGNAL)
    def publish(self, payload: dict[str, Any]) -> None:
        message = MessagePublication.model_validate(payload)
        now = workflow.now()
        seen_until = self._seen_ids.get(message.message_id or "", now)
        if message.message_id is not None and seen_until > now:
            workflow.logger.info("Ignoring duplicate message id %s", message.message_id)
            return
        ttl = timedelta(seconds=max(message.time_to_live_seconds, 0))
        message.expires_at = now + ttl
        if message.message_id is not None:
            self._seen_ids[message.message_id] = message.expires_at
        if ttl or self._subscriptions:
            self._messages.append(message)
        self._changed = True

    @workflow.signal(name=SUBSCRIBE_SIGNAL)
    def subscribe(self, payload: dict[str, Any]) -> None:
        subscription = MessageSubscription.model_validate(payload)
        if subscription not in self._subscriptions:
            self._subscriptions.append(subscription)
        self._changed = True

    @workflow.signal(name=UNSUBSCRIBE_SIGNAL)
    def unsubscribe(self, payload: dict[str, Any]) -> None:
        subscription = MessageSubscription.model_validate(payload)
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
        self._changed = True

    @workflow.signal(name=RETURN_SIGNAL)
    def return_message(self, payload: dict[str, Any]) -> None:
        self._messages.insert(0, MessagePublication.model_validate(payload))
        self._changed = True

    @workflow.query(name="state")
    def state(self) -> dict[str, Any]:
        return self._state()

    # --- matching -----------------------------------------------------------------------------

    async def _deliver(self) -> None:
        """Hand buffered messages to subscriptions, oldest first."""
        while self._messages and self._subscriptions:
            message, subscription = self._messages[0], self._subscriptions.pop(0)
            correlated = CorrelatedMessage(
                subscription_id=subscription.subscription_id, message=message
            )
            handle = workflow.get_external_workflow_handle(subscription.workflow_id)
            try:
                await handle.signal(MESSAGE_SIGNAL, correlated.model_dump(mode="json"))
            except Exception as error:  # the instance is gone: keep the message for others
                workflow.logger.info(
                    "Subscription of %s dropped: %s", subscription.workflow_id, error
                )
                continue
            self._messages.pop(0)

    def _forget_expired(self) -> None:
        now = workflow.now()
        self._messages = [m for m in self._messages if m.expires_at is None or m.expires_at > now]
        self._seen_ids = {key: until for key, until in self._seen_ids.items() if until > now}

    def _next_expiry(self) -> timedelta | None:
        moments = [m.expires_at for m in self._messages if m.expires_at is not None]
        moments += list(self._seen_ids.values())
        if not moments:
            return None
        return max(min(moments) - workflow.now(), timedelta(milliseconds=1))

    def _state(self) -> dict[str, Any]:
        return {
            "messages": [m.model_dump(mode="json") for m in self._messages],
            "subscriptions": [s.model_dump(mode="json") for s in self._subscriptions],
            "seen_ids": {k: v.isoformat() for k, v in self._seen_ids.items()},
        }

    def _restore(self, state: dict[str, Any]) -> None:
        self._messages = [MessagePublication.model_validate(m) for m in state["messages"]]
        self._subscriptions = [
            MessageSubscription.model_validate(s) for s in state["subscriptions"]
        ]
        self._seen_ids = {k: datetime.fromisoformat(v) for k, v in state["seen_ids"].items()}
