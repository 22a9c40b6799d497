"""Twilio webhooks: incoming calls, incoming SMS, and status callbacks.

Every request is signature-checked. A call always hears valid TwiML and an SMS always gets
a reply: any internal failure rolls the turn back and answers with an apology and a
callback offer, never a 5xx.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue
from rq import Retry
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from twilio.twiml.messaging_response import MessagingResponse

from hotline import phones
from hotline.cases.models import Channel
from hotline.channels import sms, voice
from hotline.channels.templates import SIGNATURE
from hotline.flows.conversations import (
    Inbound,
    close_call,
    find_replay,
    rescue_callback,
    reset_conversation,
    resident_flow,
    take_turn,
)
from hotline.flows.schema import Text
from hotline.jobs import close_call_job, record_status_job
from hotline.logs import log_exception
from hotline.services import Services
from hotline.telephony.models import Direction, Message
from hotline.telephony.status import record_status
from hotline.web.signatures import twilio_signed

logger = logging.getLogger(__name__)

blueprint = Blueprint("twilio", __name__, url_prefix="/twilio")

TWIML = "text/xml; charset=utf-8"
# The fallback texts live here, not in the flow file: they must work when the flow does not.
APOLOGY = Text("对不起，系统暂时出现故障。", "Sorry, something went wrong on our side.")
GOODBYE = Text("感谢您的来电，再见。", "Thank you for calling. Goodbye.")
CALLBACK_OFFER = Text("如需社工回电，请按0。", "For a callback from a social worker, press 0.")
SMS_APOLOGY = Text(
    "系统繁忙，请稍后再试；回复0可预约社工回电。",
    "The service is busy. Please try again later, or reply 0 for a callback.",
)
STATUS_RETRY = Retry(max=5, interval=[5, 30, 60, 300, 600])
FINISHED_CALL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}


def _services() -> Services:
    return current_app.extensions["hotline"]


def _twiml(body: str) -> Response:
    return Response(body, status=200, content_type=TWIML)


def _in_transaction(work: Callable[[Session], str], turn_key: str) -> str:
    """Run one turn in the request's session and commit; a retry racing us gets our answer."""
    session = _services().db.scoped()
    try:
        body = work(session)
        session.commit()
        return body
    except IntegrityError:
        session.rollback()
        stored = find_replay(session, turn_key)
        if stored is None:
            raise
        return stored


@blueprint.post("/voice")
@twilio_signed
def incoming_call() -> ResponseReturnValue:
    """One turn of a call: the first request starts the flow; later ones carry `step`."""
    services = _services()
    form = request.form
    call_sid = form.get("CallSid", "")
    step = request.args.get("step")
    timed_out = request.args.get("timeout") == "1"

    inbound = Inbound(
        channel=Channel.VOICE,
        conversation_key=call_sid,
        turn_key=f"voice:{call_sid}:{step or 'start'}",
        caller_raw=form.get("From"),
        inputs=(None if timed_out else form.get("Digits", ""),),
        start=step is None,
    )

    def work(session: Session) -> str:
        repeat_hint = resident_flow().text("repeat_hint")
        answer = take_turn(
            session, services, inbound, lambda r, s: voice.render_step(r, s, repeat_hint)
        )
        return answer.body

    try:
        if not call_sid:
            raise ValueError("incoming call without CallSid")
        return _twiml(_in_transaction(work, inbound.turn_key))
    except Exception:
        services.db.scoped().rollback()
        log_exception(
            logger,
            "voice turn failed; apologising call=%s from=%s",
            call_sid,
            phones.mask(form.get("From")),
        )
        return _twiml(voice.render_apology(APOLOGY, CALLBACK_OFFER, GOODBYE))


@blueprint.post("/voice/rescue")
@twilio_signed
def rescue() -> ResponseReturnValue:
    """After a failed turn: `0` asks for a callback by the shortest path there is."""
    services = _services()
    form = request.form
    call_sid = form.get("CallSid", "")
    if form.get("Digits") != "0":
        return _twiml(voice.render_notice([GOODBYE]))

    try:
        session = services.db.scoped()
        texts = rescue_callback(session, services, call_sid, form.get("From"))
        session.commit()
        return _twiml(voice.render_notice([*texts, GOODBYE]))
    except Exception:
        services.db.scoped().rollback()
        log_exception(logger, "rescue callback failed call=%s", call_sid)
        sorry = Text("对不起，请稍后再拨。", "Sorry, please call again later.")
        return _twiml(voice.render_notice([sorry, GOODBYE]))


def _reply(body: str | None) -> Response:
    response = MessagingResponse()
    if body:
        response.message(body)
    return _twiml(str(response))


@blueprint.post("/sms")
@twilio_signed
def incoming_sms() -> ResponseReturnValue:
    """A resident's SMS: read it tolerantly, run it through the flow, reply with the result.

    The inbound message is stored even when its turn fails, and the exchange goes back to
    the main menu, so the apology's "reply 0" works and nothing the resident sent is lost.
    """
    services = _services()
    form = request.form
    message_sid = form.get("MessageSid") or form.get("SmsSid") or ""
    phone = phones.normalize(form.get("From"))
    body = (form.get("Body") or "").replace("\x00", "")

    if not message_sid or phone is None:
        logger.warning("sms without a usable sender or sid from=%s", phones.mask(form.get("From")))
        if message_sid:
            _keep_unanswerable(services, message_sid, form.get("From"), form.get("To"), body)
        return _reply(None)

    inbound = Inbound(
        channel=Channel.SMS,
        conversation_key=f"sms:{phone}",
        turn_key=f"sms:{message_sid}",
        caller_raw=phone,
        inputs=sms.read_reply(body),
    )

    def work(session: Session) -> str:
        _store_inbound(session, message_sid, phone, form.get("To"), body)
        answer = take_turn(
            session, services, inbound, lambda r, s: sms.render_reply(services.templates, r)
        )
        if not answer.replayed:
            session.add(
                Message(
                    direction=Direction.REPLY,
                    from_number=form.get("To"),
                    to_number=phone,
                    body=answer.body,
                    status="replied",
                    purpose="reply",
                    resident_id=answer.conversation.resident_id if answer.conversation else None,
                )
            )
        return answer.body

    try:
        return _reply(_in_transaction(work, inbound.turn_key))
    except Exception:
        services.db.scoped().rollback()
        log_exception(logger, "sms turn failed; apologising from=%s", phones.mask(phone))
        _keep_after_failure(services, message_sid, phone, form.get("To"), body)
        return _reply(f"{SIGNATURE}{SMS_APOLOGY.zh}\n{SMS_APOLOGY.en}")


def _store_inbound(session: Session, sid: str, phone: str, to: str | None, body: str) -> None:
    """Store the inbound SMS once (a retry, or a copy kept after a failure, is not added)."""
    if session.scalar(select(Message.id).where(Message.sid == sid)) is not None:
        return
    session.add(
        Message(
            sid=sid,
            direction=Direction.INBOUND,
            from_number=phone,
            to_number=to,
            body=body,
            status="received",
            purpose="resident",
        )
    )


def _keep_unanswerable(
    services: Services, sid: str, sender: str | None, to: str | None, body: str
) -> None:
    """Keep an SMS no reply can reach (a withheld or malformed sender): it is still read.

    Best effort: a failure is logged and swallowed.
    """
    try:
        with services.db.session() as session:
            if session.scalar(select(Message.id).where(Message.sid == sid)) is None:
                session.add(
                    Message(
                        sid=sid,
                        direction=Direction.INBOUND,
                        from_number=(sender or "")[:32] or None,
                        to_number=to,
                        body=body,
                        status="received",
                        purpose="unusable_sender",
                    )
                )
    except Exception:
        log_exception(logger, "could not keep the sms from=%s", phones.mask(sender))


def _keep_after_failure(
    services: Services, sid: str, phone: str, to: str | None, body: str
) -> None:
    """Best effort after a failed turn: keep the message and reset the exchange to the menu.

    Failures here are logged and swallowed: the resident still gets the apology.
    """
    try:
        with services.db.session() as session:
            _store_inbound(session, sid, phone, to, body)
            reset_conversation(session, f"sms:{phone}")
    except Exception:
        log_exception(logger, "could not keep the failed sms from=%s", phones.mask(phone))


def _retry_later(
    services: Services,
    message_sid: str | None,
    message_status: str,
    error_code: str | None,
    call_sid: str | None,
    call_status: str | None,
) -> None:
    """Queue a status callback the web request could not store; logged if Redis fails too."""
    try:
        if message_sid and message_status:
            services.enqueue(
                "default",
                record_status_job,
                message_sid,
                message_status,
                _error_code(error_code),
                retry=STATUS_RETRY,
            )
        elif call_sid and call_status in FINISHED_CALL_STATUSES:
            services.enqueue("default", close_call_job, call_sid, retry=STATUS_RETRY)
    except Exception:
        log_exception(logger, "status callback lost sid=%s", message_sid or call_sid)


def _error_code(value: str | None) -> int | None:
    """Twilio's error codes are five digits; anything else is not one."""
    if value and value.isascii() and value.isdigit() and len(value) <= 6:
        return int(value)
    return None


@blueprint.post("/status")
@twilio_signed
def status_callback() -> ResponseReturnValue:
    """Message and call status callbacks. Always 204: Twilio only needs to know we heard.

    When the case store cannot take the callback now (a long lock, a restart), it is handed
    to a job that retries, so no status is lost; SIDs and statuses are not personal data.
    """
    services = _services()
    form = request.form
    session = services.db.scoped()
    message_sid = form.get("MessageSid") or form.get("SmsSid")
    message_status = form.get("MessageStatus") or form.get("SmsStatus") or ""
    call_sid, call_status = form.get("CallSid"), form.get("CallStatus")

    try:
        if message_sid and message_status:
            record_status(session, message_sid, message_status, _error_code(form.get("ErrorCode")))
        elif call_sid and call_status in FINISHED_CALL_STATUSES:
            close_call(session, services, call_sid)
        session.commit()
    except Exception:
        session.rollback()
        log_exception(
            logger, "status callback failed sid=%s; retrying in a job", message_sid or call_sid
        )
        _retry_later(
            services, message_sid, message_status, form.get("ErrorCode"), call_sid, call_status
        )
    return Response(status=204)
