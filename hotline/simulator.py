"""Simulated Twilio client that plays calls and SMS against a running hotline server.

It signs every webhook like Twilio, follows the TwiML answers and records a transcript.
"""

import enum
import logging
import math
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self
from urllib.parse import urlencode, urljoin, urlsplit

import requests
from twilio.request_validator import RequestValidator

from hotline.phones import mask

logger = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
VOICE_PATH = "/twilio/voice"
SMS_PATH = "/twilio/sms"
STATUS_PATH = "/twilio/status"
TWIML_CONTENT_TYPES = frozenset({"text/xml", "application/xml"})

END_HANGUP = "Hangup"
END_REJECT = "Reject"
END_OF_DOCUMENT = "end of document"
END_CALLER_HUNG_UP = "caller hung up"
END_APPLICATION_ERROR = "application error"
END_STEP_LIMIT = "step limit"

_USER_AGENT = "TwilioProxy/1.1 (hotline simulator)"
_DTMF_KEYS = frozenset("0123456789*#")
_GATHER_PROMPT_VERBS = frozenset({"Say", "Play", "Pause"})
_SPEECH_CONFIDENCE = "0.9"
_SECONDS_PER_SPOKEN_CHAR = 0.25
_FAKE_RECORDING_SECONDS = 7
_FAKE_DIAL_SECONDS = 30
_MAX_SMS_REDIRECTS = 10


class LineKind(enum.StrEnum):
    """What a transcript line records."""

    SAY = "say"
    PLAY = "play"
    PAUSE = "pause"
    PRESS = "press"
    SPEECH = "speech"
    TIMEOUT = "timeout"
    REDIRECT = "redirect"
    RECORD = "record"
    DIAL = "dial"
    SMS = "sms"
    REPLY = "reply"
    MEDIA = "media"
    UNKNOWN = "unknown"
    HANGUP = "hangup"
    ERROR = "error"


_LINE_FORMATS = {
    LineKind.SAY: "🔊 {text}",
    LineKind.PLAY: "🎵 {text}",
    LineKind.PAUSE: "⏸ {text}s",
    LineKind.PRESS: "⌨ {text}",
    LineKind.SPEECH: "🗣 {text}",
    LineKind.TIMEOUT: "⌨ (no input: timeout)",
    LineKind.REDIRECT: "↪ {text}",
    LineKind.RECORD: "⏺ recording sent to {text}",
    LineKind.DIAL: "📞 dial {text}",
    LineKind.SMS: "✉ {text}",
    LineKind.REPLY: "✉ reply: {text}",
    LineKind.MEDIA: "📎 {text}",
    LineKind.UNKNOWN: "? <{text}> not simulated",
    LineKind.HANGUP: "☎ hung up ({text})",
    LineKind.ERROR: "✖ {text}",
}


@dataclass
class Line:
    """One event of a transcript; `language` is set for spoken text only."""

    kind: LineKind
    text: str = ""
    language: str | None = None

    def render(self) -> str:
        """Return the line as one human-readable row of text."""
        return _LINE_FORMATS[self.kind].format(text=self.text)


@dataclass
class HttpExchange:
    """One HTTP request the simulator sent; `status_code` is None when no answer came."""

    method: str
    url: str
    params: dict[str, str]
    signature: str
    status_code: int | None = None
    content_type: str = ""
    body: str = ""


@dataclass(kw_only=True)
class Transcript:
    """Common part of call and SMS transcripts: event lines and every HTTP request sent."""

    from_number: str
    to_number: str
    lines: list[Line] = field(default_factory=list)
    requests: list[HttpExchange] = field(default_factory=list)
    ok: bool = True

    def add(self, kind: LineKind, text: str = "", language: str | None = None) -> None:
        """Append one line to the transcript."""
        self.lines.append(Line(kind, text, language))

    def fail(self, message: str) -> None:
        """Record an error line and mark the transcript as not ok."""
        logger.info("simulator: %s", message)

        self.ok = False
        self.add(LineKind.ERROR, message)

    def texts(self, kind: LineKind) -> list[str]:
        """Return the text of every line of the given kind, in order."""
        return [line.text for line in self.lines if line.kind == kind]

    @property
    def errors(self) -> list[str]:
        """The error messages recorded so far."""
        return self.texts(LineKind.ERROR)


@dataclass(kw_only=True)
class CallTranscript(Transcript):
    """Everything that happened during one simulated call."""

    call_sid: str
    end_reason: str = ""

    @property
    def said(self) -> list[str]:
        """The texts spoken by `<Say>`, in order."""
        return self.texts(LineKind.SAY)

    @property
    def pressed(self) -> list[str]:
        """The digits sent to Gather actions, in order (timeouts excluded)."""
        return self.texts(LineKind.PRESS)

    def render(self) -> str:
        """Return a readable transcript; the caller's number is masked in the header."""
        header = f"☎ call from {mask(self.from_number)} to {self.to_number} ({self.call_sid[:4]}…)"

        return "\n".join([header, *(line.render() for line in self.lines)])


@dataclass(kw_only=True)
class SmsTranscript(Transcript):
    """Everything that happened for one simulated inbound SMS."""

    message_sid: str
    body: str

    @property
    def replies(self) -> list[str]:
        """The bodies of the `<Message>` replies, in order."""
        return self.texts(LineKind.REPLY)

    def render(self) -> str:
        """Return a readable transcript; the sender's number is masked."""
        rows = [f"✉ {mask(self.from_number)} → {self.body}"]
        rows.extend(line.render() for line in self.lines)

        if self.ok and not self.replies:
            rows.append("✉ (no reply)")
        return "\n".join(rows)


def count_sms_segments(text: str) -> int:
    """Return how many SMS segments Twilio would bill for `text` (an approximation).

    ASCII text is counted as GSM-7 (160 characters, 153 per part), anything else as UCS-2
    (70 UTF-16 units, 67 per part). Never raises.
    """
    if text.isascii():
        units, single, part = len(text), 160, 153
    else:
        units, single, part = len(text.encode("utf-16-le")) // 2, 70, 67

    if units <= single:
        return 1
    return math.ceil(units / part)


def _new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _with_query(url: str, params: dict[str, str]) -> str:
    if not params:
        return url
    if url.endswith(("?", "&")):
        separator = ""
    else:
        separator = "&" if urlsplit(url).query else "?"
    return url + separator + urlencode(params)


def _int_attr(element: ET.Element, name: str, default: int) -> int:
    try:
        return int(element.get(name, default))
    except ValueError:
        return default


def _element_text(element: ET.Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _gather_result(gather: ET.Element, press: str) -> dict[str, str]:
    """Turn a scripted press into the params Twilio posts to a Gather action ({} = no input)."""
    entered = press.strip()
    if entered.lower() == "timeout":
        return {}

    inputs = gather.get("input", "dtmf").lower()
    is_dtmf = set(entered) <= _DTMF_KEYS
    if "dtmf" not in inputs or ("speech" in inputs and not is_dtmf):
        return {"SpeechResult": entered, "Confidence": _SPEECH_CONFIDENCE} if entered else {}

    finish_key = gather.get("finishOnKey", "#")
    if finish_key and entered.endswith(finish_key):
        entered = entered[: -len(finish_key)]

    num_digits = _int_attr(gather, "numDigits", 0)
    if 0 < num_digits < len(entered):
        logger.info("press %r cut to %d digits by numDigits", entered, num_digits)
        entered = entered[:num_digits]
    return {"Digits": entered} if entered else {}


def _dial_target(dial: ET.Element) -> str:
    targets = [(dial.text or "").strip()]
    for noun in dial:
        text = _element_text(noun)
        targets.append(text if noun.tag == "Number" else f"{noun.tag} {text}".strip())
    return ", ".join(target for target in targets if target)


def _message_body(message: ET.Element) -> str:
    direct = (message.text or "").strip()
    if direct:
        return direct
    return " ".join(_element_text(body) for body in message.iter("Body"))


@dataclass(frozen=True)
class _Jump:
    """Continue the call with another TwiML document."""

    root: ET.Element
    url: str


@dataclass(frozen=True)
class _End:
    """The call is over."""

    reason: str


_Outcome = _Jump | _End | None


class TwilioPlayer:
    """Plays Twilio's side of the hotline webhooks against a server at `base_url`.

    `base_url` is both the address requested and the public URL signatures are computed
    over, so it must equal the server's PUBLIC_BASE_URL. Use it as a context manager (or
    call `close()`) to release the HTTP session it created.
    """

    def __init__(
        self,
        base_url: str,
        auth_token: str,
        account_sid: str,
        hotline_number: str,
        *,
        session: requests.Session | None = None,
        timeout: float = 10.0,
    ) -> None:
        """Create a player. Raises ValueError for a non-http(s) base URL, an empty auth
        token or a timeout that is not positive."""
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
        if not auth_token:
            raise ValueError("auth_token must not be empty")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")

        self.base_url = base_url.rstrip("/")
        self.account_sid = account_sid
        self.hotline_number = hotline_number
        self.timeout = timeout
        self._validator = RequestValidator(auth_token)
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session if this player created it. Never raises."""
        if self._owns_session:
            self._session.close()

    def url_for(self, path: str) -> str:
        """Return the absolute URL of a server path such as "/twilio/voice"."""
        return self.base_url + path

    def play_call(
        self, from_number: str, presses: list[str], *, max_steps: int = 60
    ) -> CallTranscript:
        """Play one inbound call from `from_number`, entering `presses` at each Gather.

        A press of "" or "timeout" is no input; when presses run out at a Gather the caller
        hangs up. At most `max_steps` top-level verbs are played (beyond that the call is
        cut and marked not ok). Server misbehaviour (non-2xx, non-TwiML answer, network
        error) never raises: it is recorded as an error line and sets `ok` to False. A
        status callback is sent when the call ends. Raises ValueError if max_steps < 1.
        """
        if max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {max_steps}")

        transcript = CallTranscript(
            from_number=from_number, to_number=self.hotline_number, call_sid=_new_sid("CA")
        )
        logger.info("simulated call %s from %s", transcript.call_sid, mask(from_number))

        _CallRun(self, transcript, presses, max_steps).play()
        return transcript

    def send_sms(self, from_number: str, text: str) -> SmsTranscript:
        """Send one inbound SMS and record the `<Message>` replies, following `<Redirect>`.

        Server misbehaviour never raises: it is recorded as an error line and sets `ok` to
        False, as does a chain of more than 10 redirects.
        """
        message_sid = _new_sid("SM")
        params = {
            "MessageSid": message_sid,
            "SmsSid": message_sid,
            "SmsMessageSid": message_sid,
            "AccountSid": self.account_sid,
            "From": from_number,
            "To": self.hotline_number,
            "Body": text,
            "NumMedia": "0",
            "NumSegments": str(count_sms_segments(text)),
            "SmsStatus": "received",
            "ApiVersion": API_VERSION,
        }
        transcript = SmsTranscript(
            from_number=from_number,
            to_number=self.hotline_number,
            message_sid=message_sid,
            body=text,
        )
        logger.info("simulated SMS %s from %s", message_sid, mask(from_number))

        method, url = "POST", self.url_for(SMS_PATH)
        for _ in range(_MAX_SMS_REDIRECTS + 1):
            root = self.fetch_twiml(transcript, method, url, params)
            if root is None:
                return transcript

            redirect = self._read_messaging_response(transcript, root)
            if redirect is None:
                return transcript

            method = redirect.get("method", "POST")
            url = urljoin(url, (redirect.text or "").strip())
            transcript.add(LineKind.REDIRECT, url)

        transcript.fail(f"more than {_MAX_SMS_REDIRECTS} redirects, giving up")
        return transcript

    def send(
        self, transcript: Transcript, method: str, url: str, params: dict[str, str]
    ) -> requests.Response | None:
        """Send one signed webhook request like Twilio and keep it in `transcript`.

        GET params go into the query string (and the signed URL), POST params into the form
        body. Returns the response if it is 2xx; otherwise records an error and returns
        None. Never raises for network errors.
        """
        method = method.upper()
        if method not in ("GET", "POST"):
            transcript.fail(f"unsupported method {method!r} for {url}")
            return None

        request_url = _with_query(url, params) if method == "GET" else url
        body_params = params if method == "POST" else {}
        signature = self._validator.compute_signature(request_url, body_params)
        exchange = HttpExchange(method, request_url, dict(params), signature)
        transcript.requests.append(exchange)
        logger.debug("%s %s (%d form params)", method, request_url, len(body_params))

        try:
            response = self._session.request(
                method,
                request_url,
                data=body_params or None,
                headers={"X-Twilio-Signature": signature, "User-Agent": _USER_AGENT},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            transcript.fail(f"{method} {request_url} failed: {exc}")
            return None

        exchange.status_code = response.status_code
        exchange.content_type = response.headers.get("Content-Type", "")
        exchange.body = response.content.decode("utf-8", errors="replace")
        if not 200 <= response.status_code < 300:
            transcript.fail(f"{method} {request_url} answered HTTP {response.status_code}")
            return None
        return response

    def fetch_twiml(
        self, transcript: Transcript, method: str, url: str, params: dict[str, str]
    ) -> ET.Element | None:
        """Send a webhook (see `send`) and return the `<Response>` root of its TwiML answer.

        Records an error and returns None when the answer is not 2xx, not served as
        text/xml or application/xml, not well-formed XML, or not rooted at `<Response>`.
        """
        response = self.send(transcript, method, url, params)
        if response is None:
            return None

        content_type = response.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() not in TWIML_CONTENT_TYPES:
            transcript.fail(
                f"{url} answered Content-Type {content_type!r}, "
                "expected text/xml or application/xml"
            )
            return None

        try:
            root = ET.fromstring(response.content)
        except ET.ParseError as exc:
            transcript.fail(f"{url} answered a body that is not XML: {exc}")
            return None

        if root.tag != "Response":
            transcript.fail(f"{url} answered <{root.tag}>, expected a <Response> root")
            return None
        return root

    @staticmethod
    def _read_messaging_response(transcript: SmsTranscript, root: ET.Element) -> ET.Element | None:
        """Record the replies of a MessagingResponse; return its `<Redirect>` if any."""
        for verb in root:
            if verb.tag == "Redirect":
                return verb
            if verb.tag != "Message":
                transcript.add(LineKind.UNKNOWN, verb.tag)
                continue

            body = _message_body(verb)
            recipient = verb.get("to")
            if recipient and recipient != transcript.from_number:
                body = f"(to {mask(recipient)}) {body}"
            transcript.add(LineKind.REPLY, body)
            for media in verb.iter("Media"):
                transcript.add(LineKind.MEDIA, _element_text(media))
        return None


class _CallRun:
    """State of one simulated call while its TwiML is being followed."""

    def __init__(
        self,
        player: TwilioPlayer,
        transcript: CallTranscript,
        presses: list[str],
        max_steps: int,
    ) -> None:
        self.player = player
        self.transcript = transcript
        self.presses: Iterator[str] = iter(list(presses))
        self.max_steps = max_steps
        self.steps = 0
        self.seconds = 0.0
        self.handlers: dict[str, Callable[[ET.Element, str], _Outcome]] = {
            "Say": self._say,
            "Play": self._play,
            "Pause": self._pause,
            "Gather": self._gather,
            "Redirect": self._redirect,
            "Record": self._record,
            "Dial": self._dial,
            "Hangup": lambda _verb, _url: _End(END_HANGUP),
            "Reject": lambda _verb, _url: _End(END_REJECT),
            "Sms": self._sms,
            "Message": self._sms,
        }

    def play(self) -> None:
        """Run the call from the first webhook to the status callback."""
        outcome = self._follow("POST", self.player.url_for(VOICE_PATH), self._params("ringing"))
        while isinstance(outcome, _Jump):
            outcome = self._play_document(outcome.root, outcome.url)

        self._hang_up(outcome.reason)

    def _params(self, status: str = "in-progress") -> dict[str, str]:
        transcript = self.transcript
        return {
            "CallSid": transcript.call_sid,
            "AccountSid": self.player.account_sid,
            "From": transcript.from_number,
            "To": transcript.to_number,
            "Caller": transcript.from_number,
            "Called": transcript.to_number,
            "CallStatus": status,
            "Direction": "inbound",
            "ApiVersion": API_VERSION,
        }

    def _follow(self, method: str, url: str, params: dict[str, str]) -> _Jump | _End:
        root = self.player.fetch_twiml(self.transcript, method, url, params)
        if root is None:
            return _End(END_APPLICATION_ERROR)
        return _Jump(root, url)

    def _play_document(self, root: ET.Element, url: str) -> _Jump | _End:
        for verb in root:
            if self.steps >= self.max_steps:
                self.transcript.fail(f"call cut after {self.max_steps} verbs (max_steps)")
                return _End(END_STEP_LIMIT)
            self.steps += 1

            outcome = self._play_verb(verb, url)
            if outcome is not None:
                return outcome
        return _End(END_OF_DOCUMENT)

    def _play_verb(self, verb: ET.Element, url: str) -> _Outcome:
        handler = self.handlers.get(verb.tag)
        if handler is None:
            self.transcript.add(LineKind.UNKNOWN, verb.tag)
            return None
        return handler(verb, url)

    def _hang_up(self, reason: str) -> None:
        self.transcript.end_reason = reason
        self.transcript.add(LineKind.HANGUP, reason)

        params = self._params("completed")
        params["CallDuration"] = str(math.ceil(self.seconds))
        self.player.send(self.transcript, "POST", self.player.url_for(STATUS_PATH), params)

    def _say(self, verb: ET.Element, url: str) -> _Outcome:
        text = _element_text(verb)
        self.transcript.add(LineKind.SAY, text, verb.get("language"))
        self.seconds += max(1.0, len(text) * _SECONDS_PER_SPOKEN_CHAR)
        return None

    def _play(self, verb: ET.Element, url: str) -> _Outcome:
        audio = (verb.text or "").strip()
        text = urljoin(url, audio) if audio else f"digits {verb.get('digits', '')}"
        self.transcript.add(LineKind.PLAY, text)
        self.seconds += 1
        return None

    def _pause(self, verb: ET.Element, url: str) -> _Outcome:
        length = _int_attr(verb, "length", 1)
        self.transcript.add(LineKind.PAUSE, str(length))
        self.seconds += length
        return None

    def _gather(self, verb: ET.Element, url: str) -> _Outcome:
        for prompt in verb:
            if prompt.tag in _GATHER_PROMPT_VERBS:
                self.handlers[prompt.tag](prompt, url)
            else:
                self.transcript.add(LineKind.UNKNOWN, prompt.tag)

        press = next(self.presses, None)
        if press is None:
            return _End(END_CALLER_HUNG_UP)

        result = _gather_result(verb, press)
        if "Digits" in result:
            self.transcript.add(LineKind.PRESS, result["Digits"])
        elif "SpeechResult" in result:
            self.transcript.add(LineKind.SPEECH, result["SpeechResult"])
        else:
            self.transcript.add(LineKind.TIMEOUT)
            self.seconds += _int_attr(verb, "timeout", 5)
            if verb.get("actionOnEmptyResult", "").lower() != "true":
                return None

        action = urljoin(url, verb.get("action") or "")
        return self._follow(verb.get("method", "POST"), action, self._params() | result)

    def _redirect(self, verb: ET.Element, url: str) -> _Outcome:
        target = urljoin(url, (verb.text or "").strip())
        self.transcript.add(LineKind.REDIRECT, target)
        return self._follow(verb.get("method", "POST"), target, self._params())

    def _record(self, verb: ET.Element, url: str) -> _Outcome:
        action = urljoin(url, verb.get("action") or "")
        recording_sid = _new_sid("RE")
        self.transcript.add(LineKind.RECORD, action)
        self.seconds += _FAKE_RECORDING_SECONDS

        params = self._params() | {
            "RecordingUrl": (
                f"https://api.twilio.com/{API_VERSION}/Accounts/{self.player.account_sid}"
                f"/Recordings/{recording_sid}"
            ),
            "RecordingDuration": str(_FAKE_RECORDING_SECONDS),
            "RecordingSid": recording_sid,
        }
        return self._follow(verb.get("method", "POST"), action, params)

    def _dial(self, verb: ET.Element, url: str) -> _Outcome:
        self.transcript.add(LineKind.DIAL, _dial_target(verb))
        self.seconds += _FAKE_DIAL_SECONDS

        action = verb.get("action")
        if not action:
            return None

        params = self._params() | {
            "DialCallStatus": "completed",
            "DialCallDuration": str(_FAKE_DIAL_SECONDS),
            "DialCallSid": _new_sid("CA"),
        }
        return self._follow(verb.get("method", "POST"), urljoin(url, action), params)

    def _sms(self, verb: ET.Element, url: str) -> _Outcome:
        self.transcript.add(LineKind.SMS, _message_body(verb))
        return None
