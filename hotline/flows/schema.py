"""Flow definitions: the data classes, the YAML loader and the checks a flow must pass.

A flow is a graph of nodes read from `ivr_flows/*.yaml`; the same definition serves voice
and SMS. Loading checks every reference, so a broken flow fails at start, not mid-call.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from hotline.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

FLOW_DIR = PROJECT_ROOT / "ivr_flows"
KEYS = frozenset("0123456789*#")
CHANNELS = frozenset({"voice", "sms"})


class FlowError(ValueError):
    """Raised when a flow file is malformed or refers to something that does not exist."""


class NodeType(StrEnum):
    MENU = "menu"
    CHOICE = "choice"
    INPUT = "input"
    SAY = "say"
    ACTION = "action"


@dataclass(frozen=True)
class Text:
    """A text in Chinese (spoken and shown first) and English."""

    zh: str
    en: str

    def format(self, variables: Mapping[str, Any]) -> Text:
        """Fill `{name}` placeholders; a missing variable is left as an empty string."""
        values = _Blanks(variables)
        return Text(self.zh.format_map(values), self.en.format_map(values))


class _Blanks(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        logger.warning("flow text variable %r has no value", key)
        return ""


@dataclass(frozen=True)
class Option:
    """One key of a menu: what it is called, where it leads, on which channels it shows."""

    key: str
    label: Text
    goto: str
    channels: frozenset[str] = CHANNELS


@dataclass(frozen=True)
class Shortcut:
    """At a choice, a value of another source (a service item's code) jumps straight on."""

    source: str
    store_as: str
    next: str
    channels: frozenset[str] = CHANNELS


@dataclass(frozen=True)
class Node:
    """One step of a flow; which fields matter depends on its type (see `_check_shape`)."""

    id: str
    type: NodeType
    prompt: Text | None = None
    sms_prompt: Text | None = None
    options: tuple[Option, ...] = ()
    source: str | None = None
    store_as: str | None = None
    next: str | None = None
    action: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    outcomes: Mapping[str, str] = field(default_factory=dict)
    enter: str | None = None
    end: bool = False
    min_digits: int = 1
    max_digits: int = 1
    finish_key: str | None = None
    on_misses: str | None = None
    shortcut: Shortcut | None = None

    def prompt_for(self, channel: str) -> Text | None:
        """The node's prompt for `channel` (SMS may word it differently)."""
        if channel == "sms" and self.sms_prompt is not None:
            return self.sms_prompt
        return self.prompt

    def targets(self) -> Iterable[str]:
        """Every node id this node can lead to."""
        yield from (option.goto for option in self.options)
        yield from self.outcomes.values()
        if self.next:
            yield self.next
        if self.on_misses:
            yield self.on_misses
        if self.shortcut:
            yield self.shortcut.next


@dataclass(frozen=True)
class Flow:
    """A checked flow: its nodes, shared phrases, and what happens after too many misses."""

    name: str
    version: int
    start: str
    nodes: Mapping[str, Node]
    texts: Mapping[str, Text]
    max_misses: int
    on_too_many_misses: Mapping[str, str]
    repeat_key: str

    def node(self, node_id: str) -> Node:
        """The node `node_id`; raises FlowError when the flow has no such node."""
        try:
            return self.nodes[node_id]
        except KeyError:
            raise FlowError(f"flow {self.name!r} has no node {node_id!r}") from None

    def text(self, name: str, channel: str | None = None) -> Text:
        """A shared phrase of the flow (invalid input, no input, goodbye, …); `<name>_<channel>`
        replaces it for that channel when the flow has one."""
        if channel and f"{name}_{channel}" in self.texts:
            return self.texts[f"{name}_{channel}"]
        return self.texts[name]


REQUIRED_TEXTS = ("invalid", "no_input", "repeat_hint", "goodbye")


def _text(value: Any, where: str) -> Text:
    if not isinstance(value, Mapping) or not isinstance(value.get("zh"), str):
        raise FlowError(f"{where}: expected a mapping with 'zh' and 'en' texts")
    if not isinstance(value.get("en"), str):
        raise FlowError(f"{where}: the English text 'en' is missing")
    return Text(value["zh"].strip(), value["en"].strip())


def _option(raw: Mapping[str, Any], where: str) -> Option:
    key = str(raw.get("key", ""))
    if key not in KEYS:
        raise FlowError(f"{where}: key {key!r} is not a phone key")

    channels = frozenset(raw.get("channels", CHANNELS))
    if not channels <= CHANNELS:
        raise FlowError(f"{where}: unknown channel in {sorted(channels)}")
    return Option(key, _text(raw.get("label"), f"{where}.label"), str(raw["goto"]), channels)


def _shortcut(raw: Mapping[str, Any], where: str) -> Shortcut:
    try:
        channels = frozenset(raw.get("channels", CHANNELS))
        shortcut = Shortcut(str(raw["source"]), str(raw["store_as"]), str(raw["next"]), channels)
    except (KeyError, TypeError):
        raise FlowError(f"{where}.shortcut: needs 'source', 'store_as' and 'next'") from None
    if not channels <= CHANNELS:
        raise FlowError(f"{where}.shortcut: unknown channel in {sorted(channels)}")
    return shortcut


def _node(node_id: str, raw: Mapping[str, Any]) -> Node:
    where = f"node {node_id!r}"
    try:
        node_type = NodeType(raw["type"])
    except (KeyError, ValueError):
        raise FlowError(f"{where}: 'type' must be one of {[t.value for t in NodeType]}") from None

    options = tuple(
        _option(item, f"{where}.options[{index}]")
        for index, item in enumerate(raw.get("options", []))
    )
    digits = raw.get("digits", {})
    return Node(
        id=node_id,
        type=node_type,
        prompt=_text(raw["prompt"], f"{where}.prompt") if "prompt" in raw else None,
        sms_prompt=_text(raw["sms_prompt"], f"{where}.sms_prompt") if "sms_prompt" in raw else None,
        options=options,
        source=raw.get("source"),
        store_as=raw.get("store_as"),
        next=raw.get("next"),
        action=raw.get("action"),
        params=dict(raw.get("params", {})),
        outcomes={str(k): str(v) for k, v in raw.get("outcomes", {}).items()},
        enter=raw.get("enter"),
        end=bool(raw.get("end", False)),
        min_digits=int(digits.get("min", 1)),
        max_digits=int(digits.get("max", 1)),
        finish_key=digits.get("finish_key"),
        on_misses=raw.get("on_misses"),
        shortcut=_shortcut(raw["shortcut"], where) if "shortcut" in raw else None,
    )


def _check_node(flow: Flow, node: Node, actions: set[str], sources: set[str]) -> None:
    where = f"flow {flow.name!r} node {node.id!r}"
    for target in node.targets():
        if target not in flow.nodes:
            raise FlowError(f"{where}: leads to unknown node {target!r}")

    keys = [option.key for option in node.options]
    if len(keys) != len(set(keys)) or flow.repeat_key in keys:
        raise FlowError(f"{where}: duplicate key, or the repeat key used as an option")
    if node.enter and node.enter not in actions:
        raise FlowError(f"{where}: unknown enter action {node.enter!r}")
    _check_shape(node, where, actions, sources)


def _check_shape(node: Node, where: str, actions: set[str], sources: set[str]) -> None:
    """The fields each node type needs."""
    if node.type is NodeType.MENU and not node.options:
        raise FlowError(f"{where}: a menu needs options")
    if node.shortcut and (node.type is not NodeType.CHOICE or node.shortcut.source not in sources):
        raise FlowError(f"{where}: a shortcut belongs to a choice and needs a known source")
    if node.type is NodeType.CHOICE and (node.source not in sources or not node.next):
        raise FlowError(f"{where}: a choice needs a known 'source' and a 'next'")
    if node.type is NodeType.CHOICE and not node.store_as:
        raise FlowError(f"{where}: a choice needs 'store_as'")
    if node.type is NodeType.INPUT and not (node.store_as and node.next):
        raise FlowError(f"{where}: an input needs 'store_as' and 'next'")
    if node.type is NodeType.INPUT and not 1 <= node.min_digits <= node.max_digits <= 20:
        raise FlowError(f"{where}: digits must satisfy 1 <= min <= max <= 20")
    if node.type is NodeType.ACTION and (node.action not in actions or not node.outcomes):
        raise FlowError(f"{where}: an action needs a registered 'action' and 'outcomes'")
    if node.type is NodeType.SAY and not (node.end or node.next):
        raise FlowError(f"{where}: a say node must 'end' or have a 'next'")
    if node.type in {NodeType.MENU, NodeType.CHOICE, NodeType.INPUT, NodeType.SAY}:
        if node.prompt is None:
            raise FlowError(f"{where}: needs a prompt")


def parse_flow(raw: Mapping[str, Any], *, actions: set[str], sources: set[str]) -> Flow:
    """Build and check a Flow from parsed YAML.

    `actions` and `sources` are the names registered in code; a flow naming anything else
    is refused. Raises FlowError with the place of the first problem found.
    """
    try:
        nodes = {str(node_id): _node(str(node_id), body) for node_id, body in raw["nodes"].items()}
        texts = {name: _text(value, f"texts.{name}") for name, value in raw["texts"].items()}
        flow = Flow(
            name=str(raw["flow"]),
            version=int(raw["version"]),
            start=str(raw["start"]),
            nodes=nodes,
            texts=texts,
            max_misses=int(raw.get("max_misses", 3)),
            on_too_many_misses=dict(raw.get("on_too_many_misses", {})),
            repeat_key=str(raw.get("repeat_key", "*")),
        )
    except (KeyError, TypeError, AttributeError) as error:
        raise FlowError(f"flow file is missing or misusing a field: {error}") from error

    if flow.start not in flow.nodes:
        raise FlowError(f"flow {flow.name!r}: start node {flow.start!r} does not exist")
    missing = [name for name in REQUIRED_TEXTS if name not in flow.texts]
    if missing:
        raise FlowError(f"flow {flow.name!r}: texts missing: {missing}")
    for channel in CHANNELS:
        target = flow.on_too_many_misses.get(channel)
        if target not in flow.nodes:
            raise FlowError(f"flow {flow.name!r}: on_too_many_misses.{channel} is not a node")

    for node in flow.nodes.values():
        _check_node(flow, node, actions, sources)
    return flow


def load_flow(name: str, *, actions: set[str], sources: set[str], folder: Path = FLOW_DIR) -> Flow:
    """Read and check `ivr_flows/<name>.yaml`. Raises FlowError or OSError."""
    path = folder / f"{name}.yaml"
    with path.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)

    if not isinstance(raw, Mapping):
        raise FlowError(f"{path}: not a mapping")
    return parse_flow(raw, actions=actions, sources=sources)
