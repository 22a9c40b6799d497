"""The flow engine: state and input in; next state, what to say and what to wait for out.

It knows nothing of Twilio, HTTP or the database: side effects happen in the registered
actions it is given, so one flow can be run and tested without either.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hotline.flows.schema import Flow, FlowError, Node, NodeType, Text

logger = logging.getLogger(__name__)

MAX_HOPS = 25
MISSES = "_misses"
FRESH = "_fresh"


@dataclass(frozen=True)
class ActionResult:
    """What an action did: the outcome that picks the next node, and data it adds."""

    outcome: str
    updates: Mapping[str, Any] = field(default_factory=dict)
    variables: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Choice:
    """One entry of a dynamic menu: the value stored when chosen, and its label."""

    value: str
    label: Text


class Actions(Protocol):
    """What the engine needs from the outside world, for one conversation turn."""

    def run(self, name: str, params: Mapping[str, Any], data: Mapping[str, Any]) -> ActionResult:
        """Run action `name`; may write to the case store in the turn's transaction."""

    def choices(self, source: str, data: Mapping[str, Any]) -> list[Choice]:
        """The entries of the dynamic menu `source`, in menu order."""


@dataclass(frozen=True)
class MenuLine:
    """One line of a menu as the caller hears or reads it: the key and its label."""

    key: str
    label: Text


@dataclass(frozen=True)
class Wait:
    """The input a node waits for: `min`..`max` keys, ended early by `finish_key`."""

    min_digits: int
    max_digits: int
    finish_key: str | None
    repeat_key: str | None


@dataclass
class Output:
    """What to tell the caller this turn, and what (if anything) to wait for."""

    texts: list[Text] = field(default_factory=list)
    menu: list[MenuLine] = field(default_factory=list)
    wait: Wait | None = None
    end: bool = False


@dataclass
class State:
    """Where a conversation stands: the node waiting for input and the data gathered."""

    node: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def misses(self) -> int:
        """How many unusable inputs in a row the waiting node has had."""
        return int(self.data.get(MISSES, 0))


@dataclass
class StepResult:
    """The state after a step, and what to tell the caller."""

    state: State
    output: Output


class Engine:
    """Runs one flow for one channel; `actions` supplies side effects and dynamic menus."""

    def __init__(self, flow: Flow, channel: str, actions: Actions) -> None:
        self.flow = flow
        self.channel = channel
        self.actions = actions

    def start(self, data: Mapping[str, Any] | None = None) -> StepResult:
        """Enter the flow's start node and render it."""
        state = State(self.flow.start, dict(data or {}))
        output = Output()
        return self._enter(state, self.flow.start, output)

    def step(self, state: State, user_input: str | None) -> StepResult:
        """Apply one input (None: nothing was entered in time) to the waiting node.

        Always returns a renderable result: unknown keys and silence are counted, and after
        the flow's limit lead to its `on_too_many_misses` node for this channel.
        """
        node = self.flow.node(state.node)
        state = State(state.node, dict(state.data))
        fresh = bool(state.data.pop(FRESH, False))
        value = (user_input or "").strip()

        if not value:
            return self._miss(state, node, self.flow.text("no_input"))
        if value == self.flow.repeat_key:
            state.data[MISSES] = 0
            return self._enter(state, node.id, Output())

        target = self._accept(state, node, value)
        if target is None and fresh:
            return self._enter(state, node.id, Output())
        if target is None:
            return self._miss(state, node, self.flow.text("invalid"))

        state.data[MISSES] = 0
        return self._enter(state, target, Output())

    def _accept(self, state: State, node: Node, value: str) -> str | None:
        """The node to go to for `value` at `node`, storing what was chosen; None if invalid."""
        if node.type is NodeType.MENU:
            for option in self._options(node):
                if option.key == value:
                    return option.goto
            return None

        if node.type is NodeType.CHOICE:
            choices = self.actions.choices(node.source or "", state.data)
            if value.isascii() and value.isdigit() and 1 <= int(value) <= len(choices):
                state.data[node.store_as or ""] = choices[int(value) - 1].value
                return node.next
            return self._shortcut(state, node, value)

        if node.type is NodeType.INPUT:
            digits = value.rstrip(node.finish_key or "#")
            if (
                digits.isascii()
                and digits.isdigit()
                and node.min_digits <= len(digits) <= node.max_digits
            ):
                state.data[node.store_as or ""] = digits
                return node.next
            return None

        raise FlowError(f"node {node.id!r} of type {node.type} does not wait for input")

    def _shortcut(self, state: State, node: Node, value: str) -> str | None:
        """The shortcut's next node when `value` is one of its source's values, else None."""
        shortcut = node.shortcut
        if shortcut is None or self.channel not in shortcut.channels:
            return None

        for choice in self.actions.choices(shortcut.source, state.data):
            if choice.value == value:
                state.data[shortcut.store_as] = value
                return shortcut.next
        return None

    def _miss(self, state: State, node: Node, notice: Text) -> StepResult:
        misses = state.misses + 1
        state.data[MISSES] = misses

        if misses >= self.flow.max_misses:
            state.data[MISSES] = 0
            target = node.on_misses or self.flow.on_too_many_misses[self.channel]
            logger.info("flow=%s node=%s misses=%d → %s", self.flow.name, node.id, misses, target)
            return self._enter(state, target, Output())

        return self._enter(state, node.id, Output(texts=[notice]))

    def _options(self, node: Node) -> list[Any]:
        return [option for option in node.options if self.channel in option.channels]

    def _enter(self, state: State, node_id: str, output: Output) -> StepResult:
        """Walk from `node_id` through actions and notices until a node waits or the flow ends."""
        for _ in range(MAX_HOPS):
            node = self.flow.node(node_id)
            state.node = node.id
            variables: dict[str, Any] = dict(state.data)

            if node.enter:
                result = self.actions.run(node.enter, node.params, state.data)
                state.data.update(result.updates)
                variables.update(state.data)
                variables.update(result.variables)
                if result.outcome in node.outcomes:
                    node_id = node.outcomes[result.outcome]
                    continue

            if node.type is NodeType.ACTION:
                result = self.actions.run(node.action or "", node.params, state.data)
                state.data.update(result.updates)
                if result.outcome not in node.outcomes:
                    raise FlowError(f"action {node.action!r} gave unmapped {result.outcome!r}")
                node_id = node.outcomes[result.outcome]
                continue

            prompt = node.prompt_for(self.channel)
            if prompt is not None:
                output.texts.append(prompt.format(variables))

            if node.type is NodeType.SAY:
                if node.end:
                    output.texts.append(self.flow.text("goodbye", self.channel))
                    output.end = True
                    return StepResult(state, output)
                node_id = node.next or ""
                continue

            return StepResult(state, self._wait(node, state, output))

        raise FlowError(f"flow {self.flow.name!r} did not settle within {MAX_HOPS} steps")

    def _wait(self, node: Node, state: State, output: Output) -> Output:
        if node.type is NodeType.MENU:
            output.menu = [MenuLine(option.key, option.label) for option in self._options(node)]
        elif node.type is NodeType.CHOICE:
            choices = self.actions.choices(node.source or "", state.data)
            output.menu = [MenuLine(str(i), c.label) for i, c in enumerate(choices, start=1)]

        if node.type is NodeType.INPUT:
            output.wait = Wait(node.min_digits, node.max_digits, node.finish_key, None)
        else:
            width = max((len(line.key) for line in output.menu), default=1)
            output.wait = Wait(1, width, None, self.flow.repeat_key)
        return output
