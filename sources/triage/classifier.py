"""Classify a social post about the bank into one triage category.

A readable lexicon classifier, not a model: every decision can be traced to the
weighted patterns in ``lexicon.py`` that fired (the ``signals``). Pure Python,
no Django, safe on hostile text: the analysed length is capped, control
characters are removed and every pattern is linear (bounded gaps, no nested
quantifiers), so no input can make it backtrack for long.

Scoring: each fired feature adds its weight to the categories it lists; then
combinations add theirs. Scores below zero are clipped to zero. "other" starts
at ``OTHER_PRIOR``, so a category must gather more evidence than that to win;
ties go to "other" (when in doubt, do not claim to know).

Confidence, in [0, 1)::

    strength   = 1 - exp(-best / CONFIDENCE_SCALE)      how much evidence
    separation = (best - second) / best                 margin over the runner-up
    confidence = strength * separation

``second`` is the runner-up's score; the "other" prior is left out of it (it
sets the bar for winning, it is not evidence for a competing reading).
With the constants below: one moderate signal (weight 1.5) alone gives 0.63, a
strong one (3.0) 0.86; an equally strong runner-up halves that; a tie gives 0.
Empty text ("other" on its prior alone) gives 0.37. The rule engine acts only
above its confidence floor (0.6 by default), so calibration matters more than
accuracy: on the evaluation set no post acted on automatically had a wrong
category (see bench/triage.py).
"""

import math
import re
import unicodedata
from dataclasses import dataclass

from . import lexicon

CATEGORIES: tuple[str, ...] = (
    "question",
    "complaint",
    "factual_inaccuracy",
    "opinion",
    "abuse",
    "praise",
    "phishing",
    "spam",
    "other",
)

# Blog posts can be long; the first few thousand characters carry the point,
# and the cap bounds the work per mention whatever a hostile author sends.
MAX_ANALYSED_CHARS = 2000
OTHER_PRIOR = 0.7
CONFIDENCE_SCALE = 1.5


@dataclass(frozen=True)
class Signal:
    category: str
    name: str
    weight: float


@dataclass(frozen=True)
class Classification:
    category: str
    confidence: float
    language: str
    signals: tuple[Signal, ...]
    scores: dict[str, float]

    def as_dict(self) -> dict:
        return {
            "category": self.category,
            "confidence": round(self.confidence, 4),
            "language": self.language,
            "signals": [
                {"category": s.category, "name": s.name, "weight": s.weight}
                for s in self.signals
            ],
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
        }


# --------------------------------------------------------------- normalisation

# C0/C1 controls (except tab and newline) become spaces. Zero-width, soft-hyphen,
# bidi and variation characters are invisible and used to split a word so that
# keyword filters miss it ("kut\u200bbank"), so they are removed outright.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_INVISIBLE = re.compile(
    "[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufe00-\ufe0f\ufeff]"
)
_COMBINING = re.compile("[\u0300-\u036f]")
_URL = re.compile(r"\b(?:https?://|www\.)\S{1,500}", re.IGNORECASE)
_HANDLE = re.compile(r"@(\w{1,50})")
_LOOKALIKE_DOMAIN = re.compile(
    r"\b[a-z0-9-]{0,40}" + lexicon.BRAND_STEM + r"[a-z0-9-]{0,40}\.[a-z0-9-]{0,40}"
    r"\.?(?:nl|com|net|org|info|eu|online|site|app|xyz|top|io|co)\b"
)
_BRAND_STEM = re.compile(lexicon.BRAND_STEM)
_MONEY = re.compile(
    r"(?:[€$£]\s?\d[\d.,]{0,12}k?|\b\d[\d.,]{0,12}\s?(?:euros?|eur|dollars?)\b|\b\d{1,3}k\b)"
)
_REPEATS = re.compile(r"(\D)\1{2,}")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_EMOJI_TABLE = {
    ord(char): f" {token} "
    for token, chars in lexicon.EMOJI_SIGNALS.items()
    for char in chars
}
# Any other pictograph is dropped, so that emoji soup does not look like words.
_OTHER_SYMBOLS = re.compile(
    "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\U0001f1e6-\U0001f1ff]"
)
_WORD = re.compile(r"[a-z][a-z']{0,30}")


def strip_controls(text: str) -> str:
    """Cap the length and remove invisible characters (used by the rule engine)."""
    return _CONTROL.sub(" ", _INVISIBLE.sub("", text[:MAX_ANALYSED_CHARS]))


def fold(text: str) -> str:
    """Lowercase, accent-folded text without control characters."""
    decomposed = unicodedata.normalize("NFKD", strip_controls(text))
    return _COMBINING.sub("", decomposed).lower()


def _handle_token(match: re.Match) -> str:
    handle = match.group(1).lower()
    if handle in lexicon.BRAND_HANDLES:
        return " xbrandx "
    if _BRAND_STEM.search(handle):
        return " ximpostorx "
    return " xuserx "


def _url_token(match: re.Match) -> str:
    url = match.group(0)
    host = re.sub(r"^(?:https?://)?(?:www\.)?", "", url).split("/", 1)[0]
    if _BRAND_STEM.search(host) and host not in lexicon.BRAND_DOMAINS:
        return " xlookalikex "
    return " xurlx "


def _domain_token(match: re.Match) -> str:
    if match.group(0) in lexicon.BRAND_DOMAINS:
        return match.group(0)
    return " xlookalikex "


def normalise(text: str) -> str:
    """The text the lexicon patterns run on (placeholders: see lexicon.py)."""
    text = fold(text)
    text = _URL.sub(_url_token, text)
    text = _HANDLE.sub(_handle_token, text)
    text = _LOOKALIKE_DOMAIN.sub(_domain_token, text)
    text = _MONEY.sub(" xmoneyx ", text)
    text = text.translate(_EMOJI_TABLE)
    text = _OTHER_SYMBOLS.sub(" ", text)
    text = text.replace("#", "")
    text = _REPEATS.sub(r"\1\1", text)
    return _SPACES.sub(" ", text).strip()


# --------------------------------------------------------------------- scoring

_FEATURES = tuple(
    (name, re.compile(pattern), tuple(weights.items()))
    for name, (pattern, weights) in lexicon.FEATURES.items()
)
_COMBINATIONS = tuple(
    (name, frozenset(required), tuple(weights.items()))
    for name, (required, weights) in lexicon.COMBINATIONS.items()
)


def _check_lexicon() -> None:
    # Fail at import, not at the first odd post, if someone mistypes a name.
    known = set(CATEGORIES)
    for name, _, weights in _FEATURES:
        for category, _ in weights:
            if category not in known:
                raise ValueError(f"lexicon feature {name}: unknown {category!r}")
    features = {name for name, _, _ in _FEATURES}
    for name, required, weights in _COMBINATIONS:
        if not required <= features:
            raise ValueError(f"lexicon combination {name}: unknown features")
        for category, _ in weights:
            if category not in known:
                raise ValueError(f"lexicon combination {name}: unknown {category!r}")


_check_lexicon()


def detect_language(text: str) -> str:
    """Return "nl", "en" or "" by counting language-specific stopwords."""
    return _detect_language_normalised(fold(text))


def _detect_language_normalised(normalised: str) -> str:
    dutch = english = 0
    for word in _WORD.findall(normalised):
        if word in lexicon.STOPWORDS_NL:
            dutch += 1
        elif word in lexicon.STOPWORDS_EN:
            english += 1
    if dutch > english:
        return "nl"
    if english > dutch:
        return "en"
    return ""


def classify(text: str) -> Classification:
    """Classify one post; never raises on any string."""
    if not isinstance(text, str):
        raise TypeError("classify() needs a str")
    normalised = normalise(text)
    language = _detect_language_normalised(normalised)
    scores = dict.fromkeys(CATEGORIES, 0.0)
    scores["other"] = OTHER_PRIOR
    signals: list[Signal] = []
    fired: set[str] = set()
    if normalised:
        for name, pattern, weights in _FEATURES:
            if pattern.search(normalised):
                fired.add(name)
                for category, weight in weights:
                    scores[category] += weight
                    signals.append(Signal(category, name, weight))
        for name, required, weights in _COMBINATIONS:
            if required <= fired:
                for category, weight in weights:
                    scores[category] += weight
                    signals.append(Signal(category, name, weight))
    for category, score in scores.items():
        scores[category] = round(max(score, 0.0), 4)

    # Order by score, then prefer "other" on a tie (it is last in CATEGORIES).
    ranked = sorted(
        CATEGORIES,
        key=lambda c: (scores[c], c == "other"),
        reverse=True,
    )
    best = scores[ranked[0]]
    # The prior decides whether a category has enough evidence to win; it does
    # not count against the winner's margin.
    second = max(
        (scores[c] - OTHER_PRIOR if c == "other" else scores[c]) for c in ranked[1:]
    )
    second = max(second, 0.0)
    if best <= 0:
        confidence = 0.0
    else:
        strength = 1.0 - math.exp(-best / CONFIDENCE_SCALE)
        confidence = strength * (best - second) / best
    return Classification(
        category=ranked[0],
        confidence=round(confidence, 4),
        language=language,
        signals=tuple(signals),
        scores=scores,
    )
