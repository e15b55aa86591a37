"""Message correlation without visibility queries: one mailbox workflow per message name and
correlation key (workflow id ``mailbox_id(name, key)``), and one per signal name
(``signal_hub_id(name)``).

Publishers and waiting instances reach the mailbox only by signal-with-start, which Temporal
makes atomic: the signal lands in the running mailbox or starts it. All state of one (name,
key) lives in that one workflow, whose signals are handled one at a time, so a publish and a
subscribe can never miss each other, whichever comes first:

- ``correlate`` (update): a message is handed to the oldest subscription now, or the update
  fails; it is never buffered, and the answer names the instance it reached.
- ``publish``: a message is handed to the oldest subscription, or buffered until its
  time-to-live ends (TTL 0: only waiting subscriptions get it, as in Zeebe). Each message
  correlates once. A message id seen within its message's TTL is ignored (also after that
  message correlated), so publishing is idempotent.
- ``subscribe``/``unsubscribe``: an instance starts or stops waiting.
- ``return``: an instance got a message for a wait that had just ended (say a timer won the
  race); the message goes back to the front of the buffer, so nothing is lost.
- a signal (``publish`` with ``broadcast``) goes to every subscription open when it arrives and
  is never buffered, as Zeebe broadcasts signals.

Each publication first starts the processes whose message or signal start event it triggers
(a local activity: the worker's registry knows them). A message that started an instance is
correlated: it still reaches instances already waiting for it, but is not buffered.

A delivery is a signal to the instance; if the instance is gone the message stays buffered.
A mailbox with nothing left to remember completes (a later signal-with-start opens a new
run); a busy one continues as new before its history grows long.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows._contracts import (
        CORRELATE_UPDATE,
        MAILBOX_WORKFLOW,
        MESSAGE_SIGNAL,
        PUBLISH_SIGNAL,
        RETURN_SIGNAL,
        START_BY_EVENT_ACTIVITY,
        SUBSCRIBE_SIGNAL,
        UNSUBSCRIBE_SIGNAL,
        CorrelatedMessage,
        CorrelationResult,
        MessagePublication,
        MessageSubscription,
        StartByEventRequest,
    )

CONTINUE_AS_NEW_AFTER_EVENTS = 2_000
START_BY_EVENT_PATCH = "start-by-event"
"""Mailboxes recorded before start events existed replay without the local activity."""


@workflow.defn(name=MAILBOX_WORKFLOW)
class MessageMailbox:
    def __init__(self) -> None:
        self._messages: list[MessagePublication] = []
        self._subscriptions: list[MessageSubscription] = []
        self._seen_ids: dict[str, datetime] = {}
        self._unstarted: list[MessagePublication] = []
        """Publications whose start events have not been triggered yet."""
        self._broadcasts: list[tuple[MessagePublication, list[MessageSubscription]]] = []
        self._changed = False

    @workflow.run
    async def run(self, state: dict[str, Any] | None = None) -> None:
        if state:
            self._restore(state)
        while True:
            self._forget_expired()
            await self._start_instances()
            await self._broadcast()
            await self._deliver()
            if self._is_empty():
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
        if message.broadcast:
            self._broadcasts.append((message, self._subscriptions))
            self._subscriptions = []
        elif ttl or self._subscriptions:
            self._messages.append(message)
        self._unstarted.append(message)
        self._changed = True

    @workflow.update(name=CORRELATE_UPDATE)
    async def correlate(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Correlate a message now, or fail (Zeebe's CorrelateMessage): to the oldest waiting
        instance and to the processes whose message start event it triggers. Never buffered;
        answers with the instances it reached."""
        message = MessagePublication.model_validate(payload)
        message.time_to_live_seconds = 0
        message.expires_at = workflow.now()
        started = await self._start_by(message)
        while self._subscriptions:
            subscription = self._subscriptions.pop(0)
            if await self._signal(subscription, message):
                self._changed = True
                return CorrelationResult(
                    workflow_id=subscription.workflow_id,
                    subscription_id=subscription.subscription_id,
                    started=started,
                ).model_dump(mode="json")
        self._changed = True
        if started:
            return CorrelationResult(started=started).model_dump(mode="json")
        raise ApplicationError(
            f"no instance waits for message {message.name!r} with correlation key "
            f"{message.correlation_key!r}, and no process starts with it",
            type="MessageNotCorrelated",
        )

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

    def _is_empty(self) -> bool:
        return not (
            self._messages
            or self._subscriptions
            or self._seen_ids
            or self._unstarted
            or self._broadcasts
        )

    async def _start_instances(self) -> None:
        """Start the processes whose start event each new publication triggers."""
        while self._unstarted:
            message = self._unstarted.pop(0)
            if not workflow.patched(START_BY_EVENT_PATCH):
                continue
            started = await self._start_by(message)
            if started and not self._subscriptions and message in self._messages:
                self._messages.remove(message)  # correlated with the instance it started

    async def _start_by(self, message: MessagePublication) -> list[str]:
        """The instances ``message`` started by their message or signal start event."""
        request = StartByEventRequest(
            trigger="signal" if message.broadcast else "message",
            publication=message,
            publication_id=str(workflow.uuid4()),
            task_queue=workflow.info().task_queue,
        )
        try:
            started: list[str] = await workflow.execute_local_activity(
                START_BY_EVENT_ACTIVITY,
                request.model_dump(mode="json"),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=5),
            )
        except ActivityError as error:
            workflow.logger.warning("Could not start instances for %s: %s", message, error)
            return []
        return started

    async def _broadcast(self) -> None:
        while self._broadcasts:
            message, recipients = self._broadcasts.pop(0)
            for subscription in recipients:
                await self._signal(subscription, message)

    async def _signal(self, subscription: MessageSubscription, message: MessagePublication) -> bool:
        """Deliver ``message`` to one subscription; False if its instance is gone."""
        correlated = CorrelatedMessage(
            subscription_id=subscription.subscription_id, message=message
        )
        handle = workflow.get_external_workflow_handle(subscription.workflow_id)
        try:
            await handle.signal(MESSAGE_SIGNAL, correlated.model_dump(mode="json"))
        except Exception as error:  # the instance is gone
            workflow.logger.info("Subscription of %s dropped: %s", subscription.workflow_id, error)
            return False
        return True

    async def _deliver(self) -> None:
        """Hand buffered messages to subscriptions, oldest first."""
        while self._messages and self._subscriptions:
            message, subscription = self._messages[0], self._subscriptions.pop(0)
            if await self._signal(subscription, message):
                self._messages.pop(0)  # else kept for the next subscription

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
            "unstarted": [m.model_dump(mode="json") for m in self._unstarted],
            "broadcasts": [
                {
                    "message": m.model_dump(mode="json"),
                    "recipients": [s.model_dump(mode="json") for s in recipients],
                }
                for m, recipients in self._broadcasts
            ],
        }

    def _restore(self, state: dict[str, Any]) -> None:
        self._messages = [MessagePublication.model_validate(m) for m in state["messages"]]
        self._subscriptions = [
            MessageSubscription.model_validate(s) for s in state["subscriptions"]
        ]
        self._seen_ids = {k: datetime.fromisoformat(v) for k, v in state["seen_ids"].items()}
        self._unstarted = [MessagePublication.model_validate(m) for m in state.get("unstarted", [])]
        self._broadcasts = [
            (
                MessagePublication.model_validate(b["message"]),
                [MessageSubscription.model_validate(s) for s in b["recipients"]],
            )
            for b in state.get("broadcasts", [])
        ]
