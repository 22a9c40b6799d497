"""Voice channel: a flow step rendered as TwiML with the `twilio` library's builders."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from twilio.twiml.voice_response import Gather, VoiceResponse

from hotline.flows.engine import StepResult
from hotline.flows.schema import Text

logger = logging.getLogger(__name__)

LANGUAGE = "zh-CN"
VOICE = "Polly.Zhiyu"
GATHER_TIMEOUT = 8
VOICE_PATH = "/twilio/voice"
RESCUE_PATH = "/twilio/voice/rescue"

KEY_NAMES = {"*": "星号键", "#": "井号键"}


def step_url(step: int, *, timeout: bool = False) -> str:
    """The webhook URL of the next turn; Twilio resolves it against the current request."""
    query = {"step": step, **({"timeout": 1} if timeout else {})}
    return f"{VOICE_PATH}?{urlencode(query)}"


def _say(target: VoiceResponse | Gather, text: Text) -> None:
    if text.zh:
        target.say(text.zh, language=LANGUAGE, voice=VOICE)


def _menu_line(key: str, label: Text) -> Text:
    spoken_key = KEY_NAMES.get(key, key)
    return Text(f"{label.zh}，请按{spoken_key}。", f"{label.en}: press {key}.")


def render_step(result: StepResult, step: int, repeat_hint: Text) -> str:
    """TwiML for one step: prompts inside a Gather when input is awaited, then a Redirect
    that brings a silent caller back (Twilio skips the action when nothing is pressed)."""
    output = result.output
    response = VoiceResponse()

    if output.wait is None:
        for text in output.texts:
            _say(response, text)
        if output.end:
            response.hangup()
        return str(response)

    wait = output.wait
    finish = {"finish_on_key": wait.finish_key} if wait.finish_key else {}
    gather = Gather(
        input="dtmf",
        num_digits=wait.max_digits,
        timeout=GATHER_TIMEOUT,
        action=step_url(step),
        method="POST",
        action_on_empty_result=False,
        **finish,
    )
    for text in output.texts:
        _say(gather, text)
    for line in output.menu:
        _say(gather, _menu_line(line.key, line.label))
    if wait.repeat_key:
        _say(gather, repeat_hint)

    response.append(gather)
    response.redirect(step_url(step, timeout=True), method="POST")
    return str(response)


def render_apology(apology: Text, offer: Text, goodbye: Text) -> str:
    """The answer when a turn failed: an apology, a callback on one key, then goodbye."""
    response = VoiceResponse()
    gather = Gather(input="dtmf", num_digits=1, timeout=GATHER_TIMEOUT, action=RESCUE_PATH)
    _say(gather, apology)
    _say(gather, offer)
    response.append(gather)
    _say(response, goodbye)
    response.hangup()
    return str(response)


def render_notice(texts: list[Text]) -> str:
    """TwiML that says `texts` and hangs up."""
    response = VoiceResponse()
    for text in texts:
        _say(response, text)
    response.hangup()
    return str(response)
