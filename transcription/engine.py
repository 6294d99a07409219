"""Engine-neutral transcript types: what any speech engine hands back to the core.

Nothing here knows Vosk, so a second engine (e.g. faster-whisper, which covers Serbian) returns the same
:class:`Transcript` and the core stores it without change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypedDict

DEFAULT_CONFIDENCE_THRESHOLD = 0.6


class WordDict(TypedDict):
    """JSON form of a :class:`Word`."""

    word: str
    start: float
    end: float
    conf: float


class TranscriptDict(TypedDict):
    """JSON form of a :class:`Transcript`, for storing beside the ticket."""

    text: str
    words: list[WordDict]
    mean_confidence: float
    needs_human: bool
    engine: str
    model: str
    duration: float
    unknown_grammar_words: list[str]


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word with its time span (seconds from the start of the audio) and confidence."""

    text: str
    start: float
    end: float
    confidence: float


@dataclass(frozen=True, kw_only=True, slots=True)
class Transcript:
    """The machine transcript of one recording.

    ``needs_human`` is set when nothing was recognised or the mean word confidence is under the
    threshold: an operator must listen to the audio. ``unknown_grammar_words`` lists grammar words the
    model does not know and that were therefore left out of the grammar.
    """

    text: str
    words: tuple[Word, ...]
    mean_confidence: float
    needs_human: bool
    engine: str
    model: str
    duration: float
    unknown_grammar_words: tuple[str, ...] = field(default=())

    def low_confidence_words(self, threshold: float) -> tuple[Word, ...]:
        """Return the words whose confidence is below ``threshold`` (marked for operators)."""
        return tuple(w for w in self.words if w.confidence < threshold)

    def to_dict(self) -> TranscriptDict:
        """Return the JSON-ready form of the transcript."""
        return {
            "text": self.text,
            "words": [{"word": w.text, "start": w.start, "end": w.end, "conf": w.confidence} for w in self.words],
            "mean_confidence": self.mean_confidence,
            "needs_human": self.needs_human,
            "engine": self.engine,
            "model": self.model,
            "duration": self.duration,
            "unknown_grammar_words": list(self.unknown_grammar_words),
        }


def build_transcript(
    words: Iterable[Word],
    *,
    engine: str,
    model: str,
    duration: float,
    confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD,
    unknown_grammar_words: Sequence[str] = (),
) -> Transcript:
    """Assemble a :class:`Transcript` from recognised words, deciding whether a human must listen."""
    ws = tuple(words)
    mean = sum(w.confidence for w in ws) / len(ws) if ws else 0.0
    return Transcript(
        text=" ".join(w.text for w in ws),
        words=ws,
        mean_confidence=mean,
        # Empty output is ambiguous (silence, noise or speech the model missed): a human decides.
        needs_human=not ws or mean < confidence_threshold,
        engine=engine,
        model=model,
        duration=duration,
        unknown_grammar_words=tuple(unknown_grammar_words),
    )


@dataclass(frozen=True, slots=True)
class VocabularyCheck:
    """Which hint/grammar words a model knows, and which it does not."""

    known: tuple[str, ...]
    unknown: tuple[str, ...]
