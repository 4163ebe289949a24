"""espeak-ng through ctypes: the library and its data ship inside the `espeakng-loader` wheel, so
synthesis is offline. Used by the embedded speech corpus and the rap of the embedded music.

Determinism: espeak-ng's output depends on its random seed (set per call here) and on internal
state carried over from earlier calls in the same process, so callers synthesise in a freshly
forked child (`fork_pool(..., maxtasksperchild=1)`), which starts from the untouched library.
"""
from __future__ import annotations

import ctypes
import os
import tempfile
from pathlib import Path

import numpy as np

from pipeline.errors import UserError

_AUDIO_OUTPUT_SYNCHRONOUS, _INITIALIZE_DONT_EXIT = 2, 0x8000
_RATE, _PITCH, _RANGE, _WORDGAP = 1, 3, 4, 7
_POS_CHARACTER, _CHARS_UTF8 = 1, 1
_EVENT_LIST_END, _EVENT_WORD = 0, 1


class _Event(ctypes.Structure):
    """espeak_EVENT (speak_lib.h): what the synth callback reports beside the audio."""
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]


_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


def _short_data_path() -> str:
    """espeak-ng keeps its data path in a 160-byte buffer and appends file names to it: point it
    at a short symlink when the wheel's folder is deep."""
    import espeakng_loader

    real = espeakng_loader.get_data_path()
    if len(real) <= 96:
        return real
    link = Path(tempfile.gettempdir()) / f"espeak-ng-data-{os.getuid()}"
    if not (link.is_symlink() and os.readlink(link) == real):
        tmp = link.with_name(f"{link.name}.{os.getpid()}")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(real)
        os.replace(tmp, link)
    return str(link)


class Espeak:
    """The library, initialised once in this (child) process, synthesising to int16 arrays."""

    def __init__(self):
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.libc = ctypes.CDLL(None)
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        self.lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                          ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        self.sample_rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, _short_data_path().encode(),
                                                      _INITIALIZE_DONT_EXIT)
        if self.sample_rate <= 0:
            raise UserError("espeak-ng failed to initialise (is the espeakng-loader wheel complete?)")
        self._chunks: list[np.ndarray] = []
        self._words: list[int] = []
        self._callback = _SYNTH_CALLBACK(self._collect)  # keep a reference: C holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, n_samples, events) -> int:
        if n_samples > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
        i = 0
        while events and events[i].type != _EVENT_LIST_END:
            if events[i].type == _EVENT_WORD:   # audio_position: ms from the start of the text
                self._words.append(events[i].audio_position)
            i += 1
        return 0  # 0 = keep going

    def set_voice(self, voice: str) -> None:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise UserError(f"data.embedded_speech: espeak-ng has no voice {voice!r}")

    def synthesise(self, text: str, voice: str, pitch: int, rate: int, seed: int,
                   pitch_range: int | None = None, word_gap: int | None = None) -> np.ndarray:
        """int16 samples at `sample_rate`; `pitch_range` 0..100 (espeak's default 50; wider is
        more sing-song) and `word_gap` (extra pause between words, 10 ms units) are left as the
        voice sets them when None."""
        self.set_voice(voice)
        self.lib.espeak_SetParameter(_RATE, rate, 0)
        self.lib.espeak_SetParameter(_PITCH, pitch, 0)
        if pitch_range is not None:
            self.lib.espeak_SetParameter(_RANGE, pitch_range, 0)
        if word_gap is not None:
            self.lib.espeak_SetParameter(_WORDGAP, word_gap, 0)
        # Breath noise and jitter draw on espeak's own generator and on libc rand().
        self.lib.espeak_ng_SetRandSeed(seed)
        self.libc.srand(seed & 0xFFFFFFFF)
        self._chunks, self._words = [], []
        data = text.encode("utf-8")
        # No espeakENDPAUSE: its ~0.3 s tail is 10% of an utterance; a shorter, explicit one is added.
        status = self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if status != 0:
            raise UserError(f"espeak-ng failed on {text!r} (status {status})")
        if not self._chunks:
            raise UserError(f"espeak-ng produced no audio for {text!r}")
        return np.concatenate(self._chunks)

    def synthesise_words(self, text: str, voice: str, pitch: int, rate: int, seed: int) -> tuple[np.ndarray, list[int]]:
        """As `synthesise`, plus where each word of `text` starts in the audio (samples)."""
        audio = self.synthesise(text, voice, pitch, rate, seed)
        return audio, [min(len(audio) - 1, ms * self.sample_rate // 1000) for ms in self._words]
