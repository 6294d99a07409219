"""Voicemail transcription: Asterisk audio in, engine-neutral transcripts out.

Only ``transcription.vosk_engine`` imports vosk; everything else is engine-agnostic, so another engine
(e.g. faster-whisper for Serbian, which Vosk has no model for) can sit behind the same ``Transcript``.
"""
