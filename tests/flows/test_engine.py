"""The flow engine on its own: menus, misses, repeats, actions, and the real flow file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from hotline.flows.actions import ACTIONS, SOURCES
from hotline.flows.engine import ActionResult, Choice, Engine, State
from hotline.flows.schema import FlowError, Text, load_flow, parse_flow


class RecordingActions:
    """Actions that record their calls and answer from a script, to drive the engine alone."""

    def __init__(self, outcomes: Mapping[str, str] | None = None) -> None:
        self.outcomes = dict(outcomes or {})
        self.calls: list[str] = []

    def run(self, name: str, params: Mapping[str, Any], data: Mapping[str, Any]) -> ActionResult:
        self.calls.append(name)
        return ActionResult(self.outcomes.get(name, "created"), updates={"ran": name})

    def choices(self, source: str, data: Mapping[str, Any]) -> list[Choice]:
        return [Choice(f"{source}-{i}", Text(f"选项{i}", f"Option {i}")) for i in (1, 2, 3)]


@pytest.fixture
def flow():
    return load_flow("main", actions=set(ACTIONS), sources=set(SOURCES))


def test_start_waits_at_the_main_menu_with_its_options(flow) -> None:
    result = Engine(flow, "voice", RecordingActions()).start()

    assert result.state.node == "main_menu"
    assert [line.key for line in result.output.menu] == ["1", "2", "3", "4", "0"]
    assert result.output.wait is not None and result.output.wait.max_digits == 1
    assert not result.output.end


def test_unknown_key_repeats_the_menu_with_a_notice_and_counts_a_miss(flow) -> None:
    engine = Engine(flow, "voice", RecordingActions())
    state = engine.start().state

    result = engine.step(state, "7")

    assert result.state.node == "main_menu"
    assert result.state.misses == 1
    assert result.output.texts[0] == flow.text("invalid")


def test_two_digit_input_is_not_an_option_of_a_one_key_menu(flow) -> None:
    engine = Engine(flow, "voice", RecordingActions())

    result = engine.step(engine.start().state, "12")

    assert result.state.node == "main_menu" and result.state.misses == 1


def test_silence_three_times_offers_a_person_on_voice(flow) -> None:
    engine = Engine(flow, "voice", RecordingActions())
    state = engine.start().state

    for _ in range(3):
        result = engine.step(state, None)
        state = result.state

    assert state.node == "offer_person"
    assert state.misses == 0
    assert [line.key for line in result.output.menu] == ["0", "1"]


def test_repeat_key_renders_the_same_node_again_without_a_miss(flow) -> None:
    engine = Engine(flow, "voice", RecordingActions())
    first = engine.start()

    again = engine.step(first.state, "*")

    assert again.state.node == "main_menu"
    assert again.output.texts == first.output.texts
    assert again.state.misses == 0


def test_choice_stores_the_chosen_value_and_moves_on(flow) -> None:
    actions = RecordingActions()
    engine = Engine(flow, "voice", actions)
    state = engine.step(engine.start().state, "4").state

    result = engine.step(state, "2")

    assert result.state.node == "pick_item"
    assert result.state.data["department"] == "departments-2"
    assert [line.key for line in result.output.menu] == ["1", "2", "3"]


def test_choice_out_of_range_is_a_miss(flow) -> None:
    engine = Engine(flow, "voice", RecordingActions())
    state = engine.step(engine.start().state, "4").state

    result = engine.step(state, "9")

    assert result.state.node == "pick_department" and result.state.misses == 1


def test_callback_action_outcome_picks_the_next_node_and_ends_the_call(flow) -> None:
    actions = RecordingActions({"request_callback": "created"})
    engine = Engine(flow, "voice", actions)

    result = engine.step(engine.start().state, "0")

    assert actions.calls == ["request_callback"]
    assert result.output.end
    assert result.output.texts[-1] == flow.text("goodbye")


def test_unknown_region_leads_to_the_street_menu(flow) -> None:
    engine = Engine(flow, "voice", RecordingActions({"request_callback": "need_region"}))

    result = engine.step(engine.start().state, "0")

    assert result.state.node == "pick_street"


def test_input_node_accepts_digits_with_the_finish_key(flow) -> None:
    engine = Engine(flow, "voice", RecordingActions({"look_up_case": "not_found"}))
    state = engine.step(engine.start().state, "2").state

    result = engine.step(state, "12345678#")

    assert result.state.data["case_number_input"] == "12345678"
    assert result.state.node == "main_menu"


def test_sms_hides_voice_only_options(flow) -> None:
    engine = Engine(flow, "sms", RecordingActions({"load_checklist": "shown"}))
    state = engine.step(engine.start().state, "4").state
    state = engine.step(state, "1").state

    result = engine.step(state, "1")

    assert result.state.node == "checklist"
    assert "1" not in [line.key for line in result.output.menu]


def test_sms_fresh_conversation_shows_the_menu_without_an_error(flow) -> None:
    engine = Engine(flow, "sms", RecordingActions())

    result = engine.step(State("main_menu", {"_fresh": True}), "你好")

    assert result.state.node == "main_menu"
    assert flow.text("invalid") not in result.output.texts
    assert result.state.misses == 0


def _minimal(**node: Any) -> dict[str, Any]:
    texts = {
        name: {"zh": name, "en": name} for name in ("invalid", "no_input", "repeat_hint", "goodbye")
    }
    return {
        "flow": "t",
        "version": 1,
        "start": "a",
        "texts": texts,
        "on_too_many_misses": {"voice": "a", "sms": "a"},
        "nodes": {"a": node},
    }


def test_loader_refuses_a_reference_to_a_missing_node() -> None:
    raw = _minimal(
        type="menu",
        prompt={"zh": "x", "en": "x"},
        options=[{"key": "1", "label": {"zh": "y", "en": "y"}, "goto": "nowhere"}],
    )

    with pytest.raises(FlowError, match="nowhere"):
        parse_flow(raw, actions=set(), sources=set())


def test_loader_refuses_an_unregistered_action() -> None:
    raw = _minimal(type="action", action="launch_rocket", outcomes={"ok": "a"})

    with pytest.raises(FlowError, match="action"):
        parse_flow(raw, actions={"request_callback"}, sources=set())


def test_loader_refuses_the_repeat_key_as_an_option() -> None:
    raw = _minimal(
        type="menu",
        prompt={"zh": "x", "en": "x"},
        options=[{"key": "*", "label": {"zh": "y", "en": "y"}, "goto": "a"}],
    )

    with pytest.raises(FlowError, match="repeat"):
        parse_flow(raw, actions=set(), sources=set())


def test_the_app_refuses_to_start_with_a_broken_flow(monkeypatch, tmp_path) -> None:
    from hotline import create_app
    from hotline.flows import conversations
    from hotline.settings import load_settings

    def broken() -> None:
        raise FlowError("node 'main_menu': leads to unknown node 'nowhere'")

    monkeypatch.setattr(conversations, "resident_flow", broken)

    with pytest.raises(FlowError, match="nowhere"):
        create_app(load_settings({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}))


def test_a_shortcut_value_jumps_past_the_choice_on_its_channel_only(flow) -> None:
    class Codes(RecordingActions):
        def choices(self, source: str, data: Mapping[str, Any]) -> list[Choice]:
            if source == "service_item_codes":
                return [Choice("101", Text("最低生活保障", "Minimum living allowance"))]
            return super().choices(source, data)

    sms = Engine(flow, "sms", Codes({"load_checklist": "shown"}))
    voice = Engine(flow, "voice", Codes({"load_checklist": "shown"}))

    by_sms = sms.step(sms.step(sms.start().state, "4").state, "101")
    by_voice = voice.step(voice.step(voice.start().state, "4").state, "101")

    assert by_sms.state.node == "checklist" and by_sms.state.data["item"] == "101"
    assert by_voice.state.node == "pick_department" and by_voice.state.misses == 1


def test_loader_refuses_a_shortcut_outside_a_choice() -> None:
    raw = _minimal(
        type="menu",
        prompt={"zh": "x", "en": "x"},
        options=[{"key": "1", "label": {"zh": "y", "en": "y"}, "goto": "a"}],
        shortcut={"source": "service_item_codes", "store_as": "item", "next": "a"},
    )

    with pytest.raises(FlowError, match="shortcut"):
        parse_flow(raw, actions=set(), sources={"service_item_codes"})


def test_a_callback_node_with_an_unknown_kind_fails_at_load(flow) -> None:
    from dataclasses import replace

    from hotline.flows.actions import check_params

    node = replace(flow.node("consult_callback"), params={"kind": "consultaton", "topic_zh": "x"})
    broken = replace(flow, nodes={**flow.nodes, node.id: node})

    with pytest.raises(FlowError, match="consultaton"):
        check_params(broken)
    check_params(flow)
