"""Personal data that a public reply must not carry (the privacy guard).

A public answer is read by everyone: an IBAN, a citizen service number (BSN), a card
number, a phone number, an e-mail address or a personal survey link in it is a data
leak, however well meant ("we see your account NL91 ABNA 0417 1643 00 ..."). Such a
reply goes privately. Numbers are recognised by their check digits (python-stdnum:
IBAN mod-97, the BSN's 11-test, Luhn for cards) and phone numbers by libphonenumber's
matcher, so an order number or a date is not mistaken for one. Free, shared-cost and
premium business lines (0800, 0900) are never personal, nor are the company's own
published phone numbers and mail domains (WEBCARE_OWN_PHONE_NUMBERS,
WEBCARE_OWN_EMAIL_DOMAINS) are not personal.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from stdnum import iban, luhn
from stdnum.nl import bsn

# Replies are short: a public reply longer than this is refused rather than checked
# in part (and the matchers' time stays bounded whatever is pasted in).
MAX_CHECKED_CHARS = 20_000

# Candidates only, each confirmed by its check digits. Between two characters up to
# three spaces, dots, dashes or slashes (after normalising, below); the separator
# class and the characters it separates never overlap, so each pattern runs in
# linear time and a candidate stays short.
SEPARATORS = r"[ .\-/]{0,3}"
IBAN_CANDIDATE = re.compile(
    rf"[A-Z]{{2}}\d{{2}}(?:{SEPARATORS}[A-Z0-9]){{11,32}}", re.IGNORECASE
)
DIGIT_RUN = re.compile(rf"(?<![\w,])\d(?:{SEPARATORS}\d){{8,18}}(?![\w])")
EMAIL = re.compile(r"[\w.+-]{1,64}@([\w-]{1,63}(?:\.[\w-]{1,63}){1,8})")


# Free, shared-cost and premium lines belong to businesses, never to a customer.
BUSINESS_LINES = frozenset(
    {
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
        phonenumbers.PhoneNumberType.UAN,
    }
)


@dataclass(frozen=True)
class Finding:
    kind: str  # a translatable label: "an IBAN"
    excerpt: str  # masked: enough for the agent to find it, not to repeat it

    def __str__(self) -> str:
        return f"{self.kind} ({self.excerpt})"


def _mask(value: str) -> str:
    value = re.sub(r"[\s./-]", "", value)
    return f"…{value[-4:]}" if len(value) > 4 else "…"


def _overlaps(taken: list[tuple[int, int, str]], start: int, end: int) -> bool:
    return any(other[0] < end and start < other[1] for other in taken)


def _ibans(text: str) -> list[tuple[int, int, str]]:
    found = []
    for match in IBAN_CANDIDATE.finditer(text):
        candidate = match.group()
        # The greedy candidate may run into the next word ("... 43 00 is"): the
        # longest prefix that validates is the IBAN.
        for end in range(len(candidate), 14, -1):
            compact = re.sub(r"[ .\-/]", "", candidate[:end]).upper()
            if 15 <= len(compact) <= 34 and iban.is_valid(compact):
                found.append((match.start(), match.start() + end, candidate[:end]))
                break
    return found


def _numbers(text: str, taken: list[tuple[int, int, str]]) -> list[Finding]:
    findings = []
    for match in DIGIT_RUN.finditer(text):
        if _overlaps(taken, match.start(), match.end()):
            continue
        digits = re.sub(r"\D", "", match.group())
        if len(digits) == 9 and bsn.is_valid(digits):
            kind = _("a citizen service number (BSN) or bank account number")
        elif 13 <= len(digits) <= 19 and luhn.is_valid(digits):
            kind = _("a card number")
        else:
            continue
        findings.append(Finding(kind, _mask(digits)))
        taken.append((match.start(), match.end(), match.group()))
    return findings


def _own_phone_numbers() -> set[str]:
    own = set()
    for number in settings.WEBCARE_OWN_PHONE_NUMBERS:
        try:
            parsed = phonenumbers.parse(number, settings.WEBCARE_PHONE_REGION)
        except phonenumbers.NumberParseException:
            continue
        own.add(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
    return own


def _phones(text: str, taken: list[tuple[int, int, str]]) -> list[Finding]:
    own = _own_phone_numbers()
    findings = []
    for match in phonenumbers.PhoneNumberMatcher(
        text, settings.WEBCARE_PHONE_REGION, leniency=phonenumbers.Leniency.VALID
    ):
        if _overlaps(taken, match.start, match.end):
            continue
        number = phonenumbers.format_number(
            match.number, phonenumbers.PhoneNumberFormat.E164
        )
        if number not in own and phonenumbers.number_type(match.number) not in (
            BUSINESS_LINES
        ):
            findings.append(Finding(_("a phone number"), _mask(match.raw_string)))
    return findings


def _emails(text: str) -> list[Finding]:
    own = {domain.lower().lstrip("@") for domain in settings.WEBCARE_OWN_EMAIL_DOMAINS}
    findings = []
    for match in EMAIL.finditer(text):
        domain = match.group(1).lower()
        if any(domain == d or domain.endswith("." + d) for d in own):
            continue
        findings.append(Finding(_("an e-mail address"), f"…@{domain}"))
    return findings


def _survey_links(text: str) -> list[Finding]:
    try:
        prefix = reverse("reporting:survey", kwargs={"token": "TOKEN"}).split("TOKEN")[
            0
        ]
    except NoReverseMatch:  # the survey pages are not mounted
        return []
    pattern = re.compile(re.escape(prefix) + r"[A-Za-z0-9_-]{16,64}")
    return [
        Finding(_("a personal survey link"), _mask(match.group()))
        for match in pattern.finditer(text)
    ]


def normalised(text: str) -> str:
    """The text as a reader sees it: compatibility forms folded (full-width digits,
    "＠"), invisible format characters (zero-width spaces) dropped, and every kind
    of space or line break one space, so that formatting hides nothing."""
    folded = unicodedata.normalize("NFKC", text or "")
    visible = "".join(c for c in folded if unicodedata.category(c) != "Cf")
    return re.sub(r"\s+", " ", visible)


def find_personal_data(text: str) -> list[Finding]:
    """What in `text` identifies a customer or their money, in the order found."""
    text = normalised(text)[:MAX_CHECKED_CHARS]
    ibans = _ibans(text)
    findings = [Finding(_("an IBAN"), _mask(span[2])) for span in ibans]
    taken = list(ibans)
    findings += _numbers(text, taken)
    findings += _phones(text, taken)
    findings += _emails(text)
    findings += _survey_links(text)
    return findings


def public_reply_refusal(text: str) -> str:
    """Why `text` may not go out publicly, in words for the agent; "" if it may."""
    if len(text or "") > MAX_CHECKED_CHARS:
        return gettext(
            "A public reply of more than %(chars)d characters is not checked for "
            "personal data: shorten it, or reply privately."
        ) % {"chars": MAX_CHECKED_CHARS}
    findings = find_personal_data(text)
    if not findings:
        return ""
    return gettext(
        "A public reply must not contain personal data; found %(found)s. "
        "Remove it, or reply privately."
    ) % {"found": ", ".join(str(finding) for finding in findings)}
