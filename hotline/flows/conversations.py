"""One turn of a conversation: find its state, run the engine, save, and remember the answer.

A turn is keyed (CallSid and step for a call, MessageSid for an SMS), so a webhook that
Twilio retries gets the stored answer back and applies nothing twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import phones
from hotline.cases.models import Case, Channel
from hotline.db import utcnow
from hotline.flows.actions import ACTIONS, SOURCES, FlowActions, TurnContext, check_params
from hotline.flows.engine import FRESH, Engine, State, StepResult
from hotline.flows.models import Conversation, ConversationTurn
from hotline.flows.schema import Flow, NodeType, Text, load_flow
from hotline.services import Services

logger = logging.getLogger(__name__)

RESIDENT_FLOW = "main"
SMS_IDLE_RESET = timedelta(minutes=30)


@cache
def resident_flow() -> Flow:
    """The residents' flow, loaded and checked once per process (FlowError if broken)."""
    flow = load_flow(RESIDENT_FLOW, actions=set(ACTIONS), sources=set(SOURCES))
    check_params(flow)
    return flow


@dataclass(frozen=True)
class Inbound:
    """One input from a caller or a resident texting, as the channel parsed it."""

    channel: Channel
    conversation_key: str
    turn_key: str
    caller_raw: str | None
    inputs: tuple[str | None, ...] = ()
    start: bool = False


@dataclass(frozen=True)
class TurnAnswer:
    """The rendered answer of a turn; `replayed` when it was stored by an earlier copy."""

    body: str
    replayed: bool
    conversation: Conversation | None


Render = Callable[[StepResult, int], str]


def find_replay(session: Session, turn_key: str) -> str | None:
    """The stored answer of an already-handled turn, or None."""
    return session.scalar(select(ConversationTurn.response).where(ConversationTurn.key == turn_key))


def _conversation(session: Session, inbound: Inbound, flow: Flow) -> Conversation:
    conversation = session.scalar(
        select(Conversation).where(Conversation.key == inbound.conversation_key)
    )
    if conversation is None:
        conversation = Conversation(
            key=inbound.conversation_key,
            channel=inbound.channel,
            flow=flow.name,
            node=flow.start,
            data={FRESH: True},
            seq=0,
            caller_phone=phones.normalize(inbound.caller_raw),
        )
        session.add(conversation)
        session.flush()
    return conversation


def _is_stale(conversation: Conversation) -> bool:
    if conversation.channel is not Channel.SMS or conversation.updated_at is None:
        return False
    return utcnow() - conversation.updated_at > SMS_IDLE_RESET


def take_turn(session: Session, services: Services, inbound: Inbound, render: Render) -> TurnAnswer:
    """Handle one inbound turn inside the caller's transaction and return the rendered answer.

    A turn key seen before returns its stored answer (`replayed`), changing nothing. The
    caller commits; on any exception it must roll back, so a failed turn leaves no trace.
    Raises FlowError for a flow that leads nowhere, and whatever an action raises.
    """
    stored = find_replay(session, inbound.turn_key)
    if stored is not None:
        logger.info("turn replayed key=%s", inbound.turn_key)
        return TurnAnswer(stored, True, None)

    flow = resident_flow()
    conversation = _conversation(session, inbound, flow)
    if conversation.ended or _is_stale(conversation):
        conversation.node, conversation.data, conversation.ended = (
            flow.start,
            {FRESH: True},
            False,
        )

    engine = Engine(
        flow, inbound.channel.value, FlowActions(_context(session, services, conversation))
    )
    node_before = conversation.node

    result = _run(engine, conversation, inbound)

    conversation.node = result.state.node
    conversation.data = result.state.data
    conversation.seq += 1
    if result.output.end:
        conversation.ended = True
        conversation.data = {**conversation.data, FRESH: True}
    body = render(result, conversation.seq)

    session.add(
        ConversationTurn(
            conversation_id=conversation.id,
            key=inbound.turn_key,
            seq=conversation.seq,
            node_before=node_before,
            node_after=result.state.node,
            user_input=" ".join(value or "" for value in inbound.inputs) or None,
            response=body,
        )
    )
    return TurnAnswer(body, False, conversation)


def _run(engine: Engine, conversation: Conversation, inbound: Inbound) -> StepResult:
    """Start the flow, or feed it each input in turn (an SMS may carry several keys).

    At a node waiting for a number (a case number, a phone number), digit groups typed
    with spaces (`1000 0010`) are one number, not several answers.
    """
    state = State(conversation.node, dict(conversation.data))
    if inbound.start:
        return engine.start({FRESH: True} if inbound.channel is Channel.SMS else None)

    inputs = inbound.inputs or (None,)
    waiting = engine.flow.nodes.get(state.node)
    if waiting is not None and waiting.type is NodeType.INPUT and len(inputs) > 1:
        if all(value and value.isdigit() for value in inputs):
            inputs = ("".join(value or "" for value in inputs),)

    result: StepResult | None = None
    for value in inputs:
        result = engine.step(state, value)
        state = result.state
        if result.output.end:
            break
    assert result is not None
    return result


def reset_conversation(session: Session, key: str) -> None:
    """Send conversation `key` back to the start of its flow (after a failed turn)."""
    conversation = session.scalar(select(Conversation).where(Conversation.key == key))
    if conversation is not None:
        conversation.node = resident_flow().start
        conversation.data = {FRESH: True}
        conversation.ended = False


def _context(session: Session, services: Services, conversation: Conversation) -> TurnContext:
    return TurnContext(
        session=session,
        services=services,
        conversation=conversation,
        channel=conversation.channel,
        caller_phone=conversation.caller_phone,
    )


def place_waiting_case(
    session: Session, services: Services, case_id: int, conversation_id: int | None
) -> bool:
    """Place case `case_id` if it still waits for a region: in the pool of what the resident
    chose so far (the street's, else the district's), and dispatch it.

    Returns True when the case was placed, False when there was nothing waiting.
    """
    case = session.get(Case, case_id)
    if case is None or case.region_id is not None:
        return False

    conversation = session.get(Conversation, conversation_id) if conversation_id else None
    if conversation is None:
        conversation = Conversation(
            key=f"pool:{uuid.uuid4().hex}", channel=case.channel, flow=RESIDENT_FLOW, node="-"
        )
        session.add(conversation)
        session.flush()

    data = dict(conversation.data or {})
    if data.get("case_id") != case_id:
        data = {"case_id": case_id}
    result = ACTIONS["place_case"](_context(session, services, conversation), {}, data)

    conversation.data = {**(conversation.data or {}), **result.updates}
    logger.info("case=%s waited for its region too long; pooled", case.number)
    return True


def close_call(session: Session, services: Services, call_sid: str) -> None:
    """The call has ended: a case still waiting for its region goes to the pool."""
    conversation = session.scalar(select(Conversation).where(Conversation.key == call_sid))
    if conversation is None or conversation.ended:
        return

    conversation.ended = True
    case_id = (conversation.data or {}).get("case_id")
    if case_id:
        place_waiting_case(session, services, case_id, conversation.id)


def rescue_callback(
    session: Session, services: Services, call_sid: str, caller_raw: str | None
) -> list[Text]:
    """After a failed turn: open (or reuse) a callback case for the caller, pooled where the
    region is unknown. Returns what to say. Raises on database failure."""
    phone = phones.normalize(caller_raw)
    if phone is None:
        return [Text("对不起，无法识别您的号码，请稍后再拨。", "Sorry, we cannot see your number.")]

    conversation = session.scalar(select(Conversation).where(Conversation.key == call_sid))
    if conversation is None:
        conversation = Conversation(
            key=call_sid or f"rescue:{uuid.uuid4().hex}",
            channel=Channel.VOICE,
            flow=RESIDENT_FLOW,
            node="goodbye",
            data={},
            caller_phone=phone,
        )
        session.add(conversation)
        session.flush()

    context = _context(session, services, conversation)
    data = dict(conversation.data or {})
    params = {"kind": "callback", "topic_zh": "来电处理失败后请求回电"}
    result = ACTIONS["request_callback"](context, params, data)
    data.update(result.updates)
    if result.outcome == "need_region":
        result = ACTIONS["place_case"](context, {}, data)
        data.update(result.updates)

    conversation.data, conversation.ended = data, True
    return [
        Text(
            f"已为您登记回电，工单号是 {data.get('case_number_spoken', '')}。",
            f"Your callback is registered, case {data.get('case_number', '')}.",
        )
    ]
