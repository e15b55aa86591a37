"""Runtime scopes: where tokens run and variables live.

A scope is the process instance, an embedded, ad-hoc or event sub-process instance, one
activation of an ad-hoc sub-process, or one instance of a multi-instance body. Scopes form a
tree; variables follow Zeebe's rules:

- a read sees the variables of its scope and of every enclosing scope (inner ones win);
- a write *propagates*: it updates the variable in the nearest scope that defines it, or, when
  none does, creates it in the process (root) scope;
- input mappings and multi-instance input elements create *local* variables, which vanish with
  their scope.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from translator import FlowNode, SequenceFlow
from workflows._contracts import Compensable
from workflows._timers import TimerSchedule

ScopeKind = Literal[
    "process",
    "subProcess",
    "adHocSubProcess",
    "adHocActivation",
    "eventSubProcess",
    "multiInstanceBody",
    "local",
]


class Container(Protocol):
    """What holds flow nodes: a ProcessDefinition, a SubProcess or an EventSubProcess."""

    @property
    def nodes(self) -> Mapping[str, FlowNode]: ...

    @property
    def flows(self) -> Mapping[str, SequenceFlow]: ...


@dataclass(eq=False)
class Scope:
    key: str
    kind: ScopeKind
    container: Container
    """Nodes and flows of this scope. A multi-instance body and a task's local scope share
    their parent's, since they add variables, not elements."""
    parent: Scope | None = None
    owner_id: str | None = None
    """The element whose instance this scope is (sub-process, multi-instance activity)."""
    variables: dict[str, Any] = field(default_factory=dict)
    tokens: dict[asyncio.Task[None], str] = field(default_factory=dict)
    """Each running token and the id of the element it is at."""
    failure: BaseException | None = None
    """The first exception a token raised: it ends the scope (error, terminate, crash)."""
    join_arrivals: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per gateway, tokens arrived per incoming flow and not yet joined."""
    timer_progress: dict[str, TimerSchedule] = field(default_factory=dict)
    """Per timer event sub-process, what is left of its schedule."""
    occurred: set[str] = field(default_factory=set)
    """Its non-interrupting timer and conditional event sub-processes that have occurred at
    least once: a spent timer schedule stays spent, a condition must turn false before it
    occurs again, also after continue-as-new."""
    compensable: list[Compensable] = field(default_factory=list)
    """Completed activities of this scope a compensation throw event may still undo."""
    completed: bool = False
    """A completed sub-process's scope, made again for its compensation handlers: its boundary
    and event sub-processes cannot occur any more (errors pass it by)."""
    closing: bool = False
    """Its remaining tokens are being cancelled, or an interrupting event sub-process runs in
    it: no new token may join (an ad-hoc sub-process accepts no more activations)."""
    trigger: dict[str, Any] | None = None
    """The variables of the message, signal or error that started this scope, kept apart
    until its start event's output mappings pick from them (only when it has some)."""

    @property
    def holds_event_sub_processes(self) -> bool:
        """Whether the event sub-processes of its container run at this level. Multi-instance
        bodies and local scopes add variables, not elements; an ad-hoc sub-process's are its
        own, not each activation's."""
        return self.kind not in ("multiInstanceBody", "local", "adHocActivation")

    # --- variables ----------------------------------------------------------------------------

    def chain(self) -> Iterator[Scope]:
        """This scope, then each enclosing one up to the process."""
        scope: Scope | None = self
        while scope is not None:
            yield scope
            scope = scope.parent

    def root(self) -> Scope:
        scope = self
        while scope.parent is not None:
            scope = scope.parent
        return scope

    def flow(self) -> Scope:
        """The scope the element runs in: this one, or, for an element's local scope (its
        input mappings, its start listeners' variables), the nearest that is not local."""
        scope = self
        while scope.kind == "local" and scope.parent is not None:
            scope = scope.parent
        return scope

    def visible(self) -> dict[str, Any]:
        """Every variable a read in this scope sees (inner scopes shadow outer ones)."""
        merged: dict[str, Any] = {}
        for scope in reversed(list(self.chain())):
            merged.update(scope.variables)
        return merged

    def propagate(self, values: Mapping[str, Any]) -> None:
        """Zeebe's variable propagation: set each where it is defined, else in the process."""
        for name, value in values.items():
            self._defining(name).variables[name] = value

    def _defining(self, name: str) -> Scope:
        for scope in self.chain():
            if name in scope.variables:
                return scope
        return self.root()

    def child(
        self,
        key: str,
        kind: ScopeKind,
        *,
        container: Container | None = None,
        owner_id: str | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> Scope:
        return Scope(
            key=key,
            kind=kind,
            container=self.container if container is None else container,
            parent=self,
            owner_id=owner_id,
            variables=dict(variables or {}),
        )

    # --- tokens -------------------------------------------------------------------------------

    def positions(self) -> list[str]:
        return list(self.tokens.values())
