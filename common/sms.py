"""Text messages through a backend chosen in settings, as Django does for e-mail.

`SMS_BACKEND` names a class with `send(to, text)`: `common.sms.ConsoleBackend` (the default:
printed, for development), `common.sms.LocmemBackend` (tests read `common.sms.outbox`),
`common.sms.DummyBackend` (sends nothing), `common.sms.SummaryFileBackend` (`make run`: to a file,
one line on the console) and `common.sms.HttpBackend`, a provider reached by
`SMS_URL` (chosen by default when `SMS_URL` is set).

A text is one SMS: 160 GSM-7 characters. `fit_sms()` makes any text one: typographic characters
become their plain GSM-7 look-alikes, letters outside the alphabet lose their accents, and a text
that is still too long is cut at a word with "...".
"""

import base64
import json
import logging
import sys
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from common.models import SentNotification

log = logging.getLogger(__name__)

outbox: list[dict] = []  # what LocmemBackend "sent"

SMS_LENGTH = 160
# The GSM 03.38 default alphabet, and its extension table (each of those costs two characters).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€")
_LOOK_ALIKES = {
    "\u2018": "'",  # ‘
    "\u2019": "'",  # ’
    "\u201a": "'",  # ‚
    "\u201b": "'",
    "\u2032": "'",
    "\u00b4": "'",
    "`": "'",
    "\u201c": '"',  # “
    "\u201d": '"',  # ”
    "\u201e": '"',  # „
    "\u00ab": '"',  # «
    "\u00bb": '"',  # »
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",  # –
    "\u2014": "-",  # —
    "\u2212": "-",
    "\u2026": "...",  # …
    "\u00d7": "x",  # ×
    "\u00a0": " ",
    "\u202f": " ",
    "\u2009": " ",
    "\t": " ",
    "\u00b7": "-",
    "\u2022": "-",
    "\u00b0": "o",
    "\u00ae": "(R)",
    "\u00a9": "(C)",
    "\u2122": "TM",
    "\u00bd": "1/2",
    # Letters without a decomposition: their usual Latin spelling.
    "ı": "i",
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "œ": "oe",
    "Œ": "OE",
}


def gsm7_length(text: str) -> int:
    """Characters the text costs in GSM-7 (extension characters cost two)."""
    return sum(2 if c in GSM7_EXTENSION else 1 for c in text)


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def to_gsm7(text: str) -> str:
    """The text in the GSM-7 alphabet: look-alikes for typography, accents dropped where the
    alphabet lacks the letter (ç → c, ł stays unknown → ?), spaces collapsed."""
    out = []
    for char in text:
        if char in GSM7_BASIC or char in GSM7_EXTENSION:
            out.append(char)
        elif char in _LOOK_ALIKES:
            out.append(_LOOK_ALIKES[char])
        else:
            plain = "".join(
                c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
            )
            out.append(plain if plain and is_gsm7(plain) else "?")
    return " ".join("".join(out).split())


def fit_sms(text: str, limit: int = SMS_LENGTH) -> str:
    """GSM-7 text of at most `limit` characters: cut at the last word that fits, marked "..."."""
    text = to_gsm7(text)
    if gsm7_length(text) <= limit:
        return text
    kept, used = [], 0
    for char in text:
        cost = 2 if char in GSM7_EXTENSION else 1
        if used + cost > limit - 3:
            break
        kept.append(char)
        used += cost
    cut = "".join(kept)
    if " " in cut[len(cut) // 2 :]:  # a word boundary in the second half: cut there
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-") + "..."


class ConsoleBackend:
    def send(self, to: str, text: str) -> None:
        sys.stdout.write(f"SMS to {to}: {text}\n")
        sys.stdout.flush()


class SummaryFileBackend:
    """For `make run`: the text is appended to sms.log next to the e-mails, one line announces it."""

    def send(self, to: str, text: str) -> None:
        folder = Path(settings.EMAIL_FILE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "sms.log", "a", encoding="utf-8") as log_file:
            log_file.write(f"{timezone.now().isoformat()} SMS to {to}: {text}\n")
        short = text if len(text) <= 60 else text[:57] + "..."
        sys.stdout.write(f"SMS to {to}: {short} ({folder / 'sms.log'})\n")
        sys.stdout.flush()


class DummyBackend:
    """Sends nothing (the demo's history is written without messages)."""

    def send(self, to: str, text: str) -> None:
        pass


class LocmemBackend:
    def send(self, to: str, text: str) -> None:
        outbox.append({"to": to, "text": text})


class SmsNotAccepted(Exception):
    """The provider did not take the message (not 2xx, or unreachable): the outbox retries."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer that is not 2xx


class HttpBackend:
    """POSTs {"to", "text"} as JSON to `SMS_URL` (https://user:token@provider.example/send: the
    user and token go as HTTP basic auth, never in the URL). Anything but 2xx raises."""

    def __init__(self, url: str | None = None, timeout: float | None = None) -> None:
        url = url or settings.SMS_URL
        if not url:
            raise ValueError("HttpBackend needs SMS_URL.")
        parts = urllib.parse.urlsplit(url)
        self.headers = {"Content-Type": "application/json", "User-Agent": "Omnis-SMS/1"}
        if parts.username is not None:
            user = urllib.parse.unquote(parts.username)
            token = urllib.parse.unquote(parts.password or "")
            credentials = base64.b64encode(f"{user}:{token}".encode()).decode()
            self.headers["Authorization"] = f"Basic {credentials}"
        netloc = parts.hostname or ""
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        self.url = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
        self.timeout = timeout if timeout is not None else settings.SMS_TIMEOUT_SECONDS
        self._opener = urllib.request.build_opener(_NoRedirects)

    def send(self, to: str, text: str) -> None:
        body = json.dumps({"to": to, "text": text}).encode()
        request = urllib.request.Request(self.url, data=body, headers=self.headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            exc.close()
            raise SmsNotAccepted(f"SMS provider answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SmsNotAccepted(f"SMS provider unreachable: {reason}") from None
        if not 200 <= status < 300:
            raise SmsNotAccepted(f"SMS provider answered HTTP {status}")


def backend():
    return import_string(getattr(settings, "SMS_BACKEND", "common.sms.ConsoleBackend"))()


def send_sms_once(*, key: str, to: str, text: str, template: str = "sms") -> bool:
    """Send the text (made one SMS by `fit_sms`) unless a message with this key was already sent.
    Returns sent?"""
    if not to:
        log.info("sms %s skipped: no phone number", key)
        return False
    with transaction.atomic():
        SentNotification.objects.get_or_create(
            key=key, defaults={"template": template, "recipient": to}
        )
        record = SentNotification.objects.select_for_update().get(key=key)
        if record.sent_at is not None:
            return False
        backend().send(to, fit_sms(text))
        record.sent_at = timezone.now()
        record.save(update_fields=["sent_at"])
    return True
