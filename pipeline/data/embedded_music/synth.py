"""Numpy building blocks of the procedural music synthesiser: oscillators, envelopes, filters,
drum voices, pitched instruments and effects, all vectorised and driven by a numpy Generator.

Every function returns float64 mono samples at `sr`. Instruments take a frequency in Hz and a
length in samples; drums take only a length. `Renderer` places notes and hits on a track-long
buffer and caches rendered notes, so a track costs a few dozen distinct renders however many notes
it plays (like a sampler).
"""
from __future__ import annotations

import functools

import numpy as np
from scipy import signal


# ---------------------------------------------------------------- oscillators and envelopes

def phase_of(freq, n: int, sr: int) -> np.ndarray:
    """Cycles (not radians) of a constant or per-sample frequency."""
    freq = np.broadcast_to(np.asarray(freq, dtype=np.float64), (n,))
    return np.cumsum(freq) / sr


def _poly_blep(t: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """Band-limiting correction at a sawtooth's wrap (removes most aliasing)."""
    out = np.zeros_like(t)
    lo = t < dt
    x = t[lo] / dt[lo]
    out[lo] = x + x - x * x - 1.0
    hi = t > 1.0 - dt
    x = (t[hi] - 1.0) / dt[hi]
    out[hi] = x * x + x + x + 1.0
    return out


def saw(freq, n: int, sr: int, phase0: float = 0.0) -> np.ndarray:
    dt = np.broadcast_to(np.asarray(freq, dtype=np.float64) / sr, (n,))
    t = np.mod(phase_of(freq, n, sr) + phase0, 1.0)
    return 2.0 * t - 1.0 - _poly_blep(t, dt)


def square(freq, n: int, sr: int, duty: float = 0.5) -> np.ndarray:
    return saw(freq, n, sr) - saw(freq, n, sr, phase0=duty)


def sine(freq, n: int, sr: int, phase0: float = 0.0) -> np.ndarray:
    return np.sin(2.0 * np.pi * (phase_of(freq, n, sr) + phase0))


def times(n: int, sr: int) -> np.ndarray:
    return np.arange(n) / sr


def decay_env(n: int, sr: int, decay_s: float, attack_s: float = 0.002) -> np.ndarray:
    """Linear attack then exponential decay (time constant `decay_s`)."""
    t = times(n, sr)
    env = np.exp(-t / max(decay_s, 1e-4))
    attack = max(int(attack_s * sr), 1)
    env[:attack] *= np.linspace(0.0, 1.0, attack, endpoint=False)[: min(attack, n)]
    return env


def adsr(n: int, sr: int, attack_s: float, decay_s: float, sustain: float, release_s: float) -> np.ndarray:
    """Attack / decay to `sustain` / release over the last `release_s` of the note."""
    t = times(n, sr)
    env = sustain + (1.0 - sustain) * np.exp(-np.maximum(t - attack_s, 0.0) / max(decay_s, 1e-4))
    env = np.where(t < attack_s, t / max(attack_s, 1e-4), env)
    release = min(int(release_s * sr), n)
    if release > 0:
        env[n - release:] *= np.linspace(1.0, 0.0, release)
    return env


def vibrato(freq: float, n: int, sr: int, rate_hz: float, depth_semitones: float, delay_s: float = 0.2) -> np.ndarray:
    t = times(n, sr)
    depth = depth_semitones * np.clip((t - delay_s) / 0.3, 0.0, 1.0)
    return freq * 2.0 ** (depth * np.sin(2 * np.pi * rate_hz * t) / 12.0)


# ---------------------------------------------------------------- filters and effects

def _sos(kind: str, cutoff, sr: int, order: int = 2):
    # designs are cached (a design costs more than filtering a note); cutoffs are rounded to
    # 3 significant digits (< 0.1 semitone) so a track's repeated filters share one design
    cutoff = tuple(float(f"{c:.3g}") for c in np.atleast_1d(cutoff))
    return _butter(kind, cutoff, sr, order)


@functools.lru_cache(maxsize=4096)
def _butter(kind: str, cutoff: tuple, sr: int, order: int):
    wn = np.clip(np.asarray(cutoff) / (sr / 2.0), 1e-4, 0.999)
    return signal.butter(order, wn if len(wn) > 1 else wn[0], btype=kind, output="sos")


def lowpass(x: np.ndarray, cutoff: float, sr: int, order: int = 2) -> np.ndarray:
    return signal.sosfilt(_sos("lowpass", cutoff, sr, order), x)


def highpass(x: np.ndarray, cutoff: float, sr: int, order: int = 2) -> np.ndarray:
    return signal.sosfilt(_sos("highpass", cutoff, sr, order), x)


def bandpass(x: np.ndarray, low: float, high: float, sr: int, order: int = 2) -> np.ndarray:
    return signal.sosfilt(_sos("bandpass", [low, high], sr, order), x)


def drive(x: np.ndarray, gain: float) -> np.ndarray:
    """Soft clipping (tube-like saturation / guitar distortion), output in (-1, 1)."""
    return np.tanh(gain * x) / np.tanh(gain)


def reverb(x: np.ndarray, sr: int, rng: np.random.Generator, decay_s: float, wet: float,
           tone_hz: float = 5000.0) -> np.ndarray:
    """Convolution with a lowpassed exponentially decaying noise tail (a room / hall)."""
    n_ir = int(min(decay_s * 2.0, 4.0) * sr)   # to -52 dB
    ir = rng.standard_normal(n_ir) * np.exp(-times(n_ir, sr) / (decay_s / 3.0))
    ir = lowpass(ir, tone_hz, sr)
    ir /= np.sqrt(np.sum(ir ** 2)) + 1e-12
    pre_delay = int(0.015 * sr)
    ir = np.concatenate([np.zeros(pre_delay), ir])
    # float32 FFTs: 3x faster than float64 and far below audible precision
    tail = signal.fftconvolve(x.astype(np.float32), ir.astype(np.float32))[: len(x)]
    return (1.0 - wet) * x + wet * tail


def vinyl_crackle(n: int, sr: int, rng: np.random.Generator, clicks_per_s: float, level: float) -> np.ndarray:
    """Sparse clicks of random size plus a bandlimited hiss, as on a sampled record."""
    out = np.zeros(n)
    count = rng.poisson(clicks_per_s * n / sr)
    at = rng.integers(0, n, count)
    out[at] = rng.standard_normal(count) * rng.pareto(3.0, count)
    out = bandpass(out, 300.0, 6000.0, sr)
    hiss = lowpass(rng.standard_normal(n), 4000.0, sr) * 0.15
    out = out / (np.max(np.abs(out)) + 1e-9) + hiss
    return level * out


def pump(n: int, sr: int, beat_times: np.ndarray, depth: float, release_s: float) -> np.ndarray:
    """Sidechain gain: dips by `depth` at each beat and recovers over `release_s`."""
    gain = np.ones(n)
    length = int(release_s * sr)
    shape = 1.0 - depth * (1.0 - np.linspace(0.0, 1.0, length) ** 2)
    for start in (beat_times * sr).astype(int):
        end = min(start + length, n)
        if start < n:
            gain[start:end] = np.minimum(gain[start:end], shape[: end - start])
    return gain


# ---------------------------------------------------------------- drums (length in samples -> hit)

def kick(n: int, sr: int, f_start: float, f_end: float, sweep_s: float, decay_s: float, click: float,
         rng) -> np.ndarray:
    """Sine with a fast downward pitch sweep plus a noise click: boom-bap (long), rock (tight)."""
    t = times(n, sr)
    freq = f_end + (f_start - f_end) * np.exp(-t / sweep_s)
    body = sine(freq, n, sr) * decay_env(n, sr, decay_s, attack_s=0.001)
    hit = body + click * highpass(rng.standard_normal(n), 1500, sr) * decay_env(n, sr, 0.004, 0.0005)
    return drive(hit, 1.5)


def snare(n: int, sr: int, tone_hz: float, noise_decay_s: float, brightness: float, rng) -> np.ndarray:
    tone = sine(tone_hz, n, sr) * decay_env(n, sr, 0.04, 0.001)
    rattle = bandpass(rng.standard_normal(n), 900.0, 900.0 + 6000.0 * brightness, sr)
    noise = rattle * decay_env(n, sr, noise_decay_s, 0.001)
    return 0.5 * tone + 0.8 * noise


def clap(n: int, sr: int, rng) -> np.ndarray:
    """Three quick noise bursts then a short tail, band-passed around 1-2.5 kHz."""
    env = np.zeros(n)
    for k, at in enumerate((0.0, 0.011, 0.022)):
        start = int(at * sr)
        env[start:] += decay_env(n - start, sr, 0.006 if k < 2 else 0.09, 0.0005)
    return bandpass(rng.standard_normal(n), 900, 2600, sr) * env


def hat(n: int, sr: int, decay_s: float, rng) -> np.ndarray:
    """High-passed noise plus metallic square partials: closed (short) or open (long)."""
    metal = sum(square(f, n, sr) for f in (3120.0, 4370.0, 5510.0)) / 3.0
    body = highpass(0.7 * rng.standard_normal(n) + 0.3 * metal, 5000.0, sr, order=4)
    return body * decay_env(n, sr, decay_s, 0.0005)


def ride(n: int, sr: int, bell: float, rng) -> np.ndarray:
    """Jazz ride: inharmonic partials (the ping) over a washy noise tail."""
    partials = sum(sine(f, n, sr) for f in (2370.0, 3410.0, 4820.0, 5930.0)) / 4.0
    wash = highpass(rng.standard_normal(n), 4000.0, sr) * 0.5
    return (bell * partials * decay_env(n, sr, 0.25) + wash * decay_env(n, sr, 0.6)) * 0.6


def crash(n: int, sr: int, rng) -> np.ndarray:
    return highpass(rng.standard_normal(n), 3000.0, sr) * decay_env(n, sr, 0.8, 0.001)


def tom(n: int, sr: int, freq: float, rng) -> np.ndarray:
    return kick(n, sr, freq * 1.6, freq, 0.03, 0.18, 0.2, rng)


def hand_drum(n: int, sr: int, freq: float, decay_s: float, bend: float, slap: float, rng) -> np.ndarray:
    """Tabla / darbuka / conga stroke: a membrane mode (optionally bending up, as a tabla bayan)
    with its second mode, plus a slap transient."""
    t = times(n, sr)
    f = freq * (1.0 + bend * (1.0 - np.exp(-t / 0.08)))
    modes = sine(f, n, sr) + 0.45 * sine(1.59 * f, n, sr) + 0.25 * sine(2.14 * f, n, sr)
    body = modes * decay_env(n, sr, decay_s, 0.001)
    transient = bandpass(rng.standard_normal(n), 1500, 6000, sr) * decay_env(n, sr, 0.008, 0.0005)
    return body + slap * transient


def shaker(n: int, sr: int, rng) -> np.ndarray:
    return bandpass(rng.standard_normal(n), 4000, 7500, sr) * adsr(n, sr, 0.01, 0.03, 0.0, 0.0)


# ---------------------------------------------------------------- pitched instruments (freq, n) -> note

def pluck(freq: float, n: int, sr: int, rng, brightness: float = 0.5, decay: float = 0.996) -> np.ndarray:
    """Karplus-Strong string (guitar, harpsichord, banjo, oud, sitar body): a noise burst through a
    damped comb filter. `brightness` in (0, 1] shapes the burst, `decay` the per-period loss."""
    # loop: y[k] = x[k] + decay * (avg of y[k-P], y[k-P-1]) with a linear-interpolated fractional
    # delay; the two-tap average is what makes high harmonics die first
    period = sr / freq - 0.5
    delay = max(int(period), 2)
    frac = period - delay
    burst = rng.uniform(-1.0, 1.0, delay)
    if brightness < 1.0:
        burst = lowpass(burst, max(200.0, brightness * sr / 2.2), sr, order=1)
    burst -= burst.mean()   # the loop passes DC: a zero-mean burst leaves no offset
    excitation = np.zeros(n)
    excitation[: min(delay, n)] = burst[:n]
    a = np.zeros(delay + 3)
    a[0] = 1.0
    a[delay: delay + 3] = -decay * 0.5 * np.array([1.0 - frac, 1.0, frac])
    y = signal.lfilter([1.0], a, excitation)
    return y / (np.max(np.abs(y)) + 1e-9)


def epiano(freq: float, n: int, sr: int, brightness: float = 0.5) -> np.ndarray:
    """Rhodes-like FM: a tine (high-ratio modulator, quickly decaying index) on a sine."""
    t = times(n, sr)
    index = (1.0 + 3.0 * brightness) * np.exp(-t / 0.25)
    tine = 0.4 * brightness * np.sin(2 * np.pi * 14.0 * freq * t) * np.exp(-t / 0.02)
    modulator = np.sin(2 * np.pi * freq * t) * index + tine
    return np.sin(2 * np.pi * freq * t + modulator) * decay_env(n, sr, 1.2, 0.003)


def piano(freq: float, n: int, sr: int, brightness: float = 0.5) -> np.ndarray:
    """Additive piano: slightly stretched partials, higher ones decaying faster."""
    t = times(n, sr)
    out = np.zeros(n)
    for k in range(1, 9):
        fk = freq * k * (1.0 + 0.0004 * k * k)
        if fk > sr / 2.2:
            break
        amp = (brightness ** (k - 1)) / k ** 0.5
        out += amp * np.sin(2 * np.pi * fk * t) * np.exp(-t * (0.8 + 0.9 * k) * (freq / 440.0) ** 0.3)
    attack = min(int(0.002 * sr), n)
    out[:attack] *= np.linspace(0.0, 1.0, attack)
    return out


def organ(freq: float, n: int, sr: int, drawbars=(1.0, 0.8, 0.5, 0.3, 0.0, 0.2)) -> np.ndarray:
    """Drawbar organ: fixed sine partials 1, 2, 3, 4, 6, 8 with a key click and a sustained envelope."""
    t = times(n, sr)
    out = sum(level * np.sin(2 * np.pi * freq * ratio * t)
              for ratio, level in zip((1, 2, 3, 4, 6, 8), drawbars) if freq * ratio < sr / 2.2)
    return out * adsr(n, sr, 0.005, 0.05, 0.9, 0.03)


def strings(freq: float, n: int, sr: int, rng, attack_s: float = 0.25, cutoff_hz: float = 3000.0) -> np.ndarray:
    """Bowed section: three detuned band-limited saws with delayed vibrato, slow attack, lowpass."""
    detune = rng.uniform(-0.006, 0.006, 3)
    rate = rng.uniform(4.5, 6.0)
    out = sum(saw(vibrato(freq * (1 + d), n, sr, rate, 0.15), n, sr, rng.uniform()) for d in detune)
    return lowpass(out / 3.0, cutoff_hz, sr) * adsr(n, sr, attack_s, 0.3, 0.85, min(0.25, n / sr / 3))


def pad(freq: float, n: int, sr: int, rng, cutoff_hz: float = 1500.0, attack_s: float = 1.0) -> np.ndarray:
    """Synth pad: detuned saws, lowpassed, slow swell and release."""
    detune = rng.uniform(-0.012, 0.012, 3)
    out = sum(saw(freq * (1 + d), n, sr, rng.uniform()) for d in detune) / 3.0
    return lowpass(out, cutoff_hz, sr) * adsr(n, sr, attack_s, 1.0, 0.8, min(1.0, n / sr / 3))


def choir(freq: float, n: int, sr: int, rng, vowel: str = "a") -> np.ndarray:
    """Sung vowel: vibrato saw through three formant band-passes."""
    formants = {"a": (730, 1090, 2440), "o": (570, 840, 2410), "u": (300, 870, 2240), "e": (530, 1840, 2480)}[vowel]
    source = saw(vibrato(freq, n, sr, rng.uniform(4.8, 5.8), 0.25, 0.15), n, sr)
    out = sum(bandpass(source, f * 0.85, f * 1.15, sr) * g for f, g in zip(formants, (1.0, 0.6, 0.3)))
    return out * adsr(n, sr, 0.15, 0.2, 0.9, min(0.2, n / sr / 3))


def reed(freq: float, n: int, sr: int, rng, index: float = 2.5, breath: float = 0.1) -> np.ndarray:
    """Sax / trumpet / harmonica: FM whose index follows the envelope (brighter when louder)."""
    env = adsr(n, sr, 0.03, 0.15, 0.75, min(0.06, n / sr / 3))
    f = vibrato(freq, n, sr, rng.uniform(4.5, 6.0), 0.12, 0.25)
    phase = 2 * np.pi * phase_of(f, n, sr)
    tone = np.sin(phase + index * env * np.sin(phase))
    noise = bandpass(rng.standard_normal(n), 1500, 5000, sr) * breath
    return (tone + noise) * env


def flute(freq: float, n: int, sr: int, rng, breath: float = 0.15) -> np.ndarray:
    f = vibrato(freq, n, sr, rng.uniform(4.5, 5.5), 0.18, 0.2)
    tone = sine(f, n, sr) + 0.25 * sine(2 * f, n, sr) + 0.08 * sine(3 * f, n, sr)
    noise = bandpass(rng.standard_normal(n), freq, min(freq * 4, sr / 2.3), sr) * breath
    return (tone + noise) * adsr(n, sr, 0.06, 0.2, 0.8, min(0.1, n / sr / 3))


def bowed_lead(freq: float, n: int, sr: int, rng, cutoff_hz: float = 4000.0) -> np.ndarray:
    """Solo violin / fiddle: saw with vibrato and a body-resonance band."""
    f = vibrato(freq, n, sr, rng.uniform(5.0, 6.5), 0.2, 0.12)
    body = saw(f, n, sr)
    out = 0.6 * lowpass(body, cutoff_hz, sr) + 0.4 * bandpass(body, 2200, 3800, sr)
    return out * adsr(n, sr, 0.04, 0.1, 0.85, min(0.05, n / sr / 3))


def harmonica(freq: float, n: int, sr: int, rng) -> np.ndarray:
    """Free reed: a narrow pulse (strong odd and even harmonics, nothing like a sax's FM) with a hand
    tremolo, a reedy resonance band and breath."""
    tone = square(freq, n, sr, duty=0.3)
    tremolo = 1.0 + 0.3 * np.sin(2 * np.pi * rng.uniform(5.0, 7.0) * times(n, sr))
    reedy = 0.6 * lowpass(tone, 3000.0, sr) + 0.4 * bandpass(tone, 1200.0, 2600.0, sr)
    breath = bandpass(rng.standard_normal(n), 2000, 6000, sr) * 0.08
    return (reedy * tremolo + breath) * adsr(n, sr, 0.04, 0.1, 0.8, min(0.06, n / sr / 3))


def slapback(x: np.ndarray, sr: int, delay_s: float = 0.11, level: float = 0.45) -> np.ndarray:
    """The single short echo of a rockabilly / country guitar amp."""
    d = int(delay_s * sr)
    out = x.copy()
    out[d:] += level * x[:-d]
    return out


def bell(freq: float, n: int, sr: int, ratio: float = 3.5, decay_s: float = 1.5) -> np.ndarray:
    """FM bell / glockenspiel / chime: inharmonic ratio, long decay."""
    t = times(n, sr)
    env = np.exp(-t / decay_s)
    return np.sin(2 * np.pi * freq * t + 2.0 * env * np.sin(2 * np.pi * freq * ratio * t)) * env


def synth_lead(freq: float, n: int, sr: int, duty: float = 0.5, cutoff_hz: float = 3500.0) -> np.ndarray:
    tone = square(freq, n, sr, duty) if duty != 0.5 else saw(freq, n, sr) * 0.5 + square(freq, n, sr) * 0.5
    return lowpass(tone, cutoff_hz, sr) * adsr(n, sr, 0.01, 0.2, 0.7, min(0.05, n / sr / 3))


def reese(freq: float, n: int, sr: int, cutoff_hz: float = 900.0) -> np.ndarray:
    """Jungle / drum and bass 'reese': two detuned saws beating against each other, lowpassed."""
    tone = saw(freq * 0.993, n, sr) + saw(freq * 1.007, n, sr, 0.3)
    return drive(lowpass(tone, cutoff_hz, sr), 1.5) * adsr(n, sr, 0.01, 0.3, 0.9, min(0.05, n / sr / 3))


def sub_bass(freq: float, n: int, sr: int, drop: float = 0.0, saturation: float = 1.2) -> np.ndarray:
    """Hip-hop sub / 808: sine (optionally dropping in pitch from the hit) gently saturated."""
    t = times(n, sr)
    f = freq * (1.0 + drop * np.exp(-t / 0.04))
    return drive(sine(f, n, sr) * adsr(n, sr, 0.005, 0.6, 0.7, min(0.08, n / sr / 3)), saturation)


def synth_bass(freq: float, n: int, sr: int, cutoff_hz: float, resonance_hz: float | None = None,
               env_depth: float = 0.0) -> np.ndarray:
    """Saw bass through a lowpass; `env_depth` crossfades towards a brighter filter at note onset
    (an acid / pluck filter envelope without a per-sample filter loop)."""
    tone = saw(freq, n, sr)
    dark = lowpass(tone, cutoff_hz, sr)
    out = dark
    if env_depth > 0:
        bright = lowpass(tone, min(cutoff_hz * 6, sr / 2.3), sr)
        if resonance_hz:
            bright = bright + 0.8 * bandpass(tone, resonance_hz * 0.8, resonance_hz * 1.25, sr)
        out = dark + env_depth * decay_env(n, sr, 0.08, 0.001) * (bright - dark)
    return out * adsr(n, sr, 0.003, 0.2, 0.8, min(0.02, n / sr / 3))


def power_chord(freq: float, n: int, sr: int, rng, gain: float, cutoff_hz: float, palm_mute: bool) -> np.ndarray:
    """Distorted electric guitar power chord (root, fifth, octave): rock (moderate gain) to metal
    (high gain, low tuning, palm-muted chugs)."""
    voices = sum(saw(freq * r * (1 + rng.uniform(-0.003, 0.003)), n, sr, rng.uniform()) for r in (1.0, 1.498, 2.0))
    env = decay_env(n, sr, 0.09 if palm_mute else 1.5, 0.002)
    distorted = drive(voices * env, gain)
    cab = lowpass(distorted, cutoff_hz * (0.5 if palm_mute else 1.0), sr, order=4)
    return highpass(cab, 90.0, sr) * adsr(n, sr, 0.001, 1.0, 1.0, min(0.03, n / sr / 3))


def bend(x: np.ndarray, sr: int, from_ratio: float, glide_s: float) -> np.ndarray:
    """Pitch glide (a sitar's meend, an oud's slide): read `x` at a speed that starts at
    `from_ratio` and settles exponentially to 1, so the note slides in from another pitch."""
    if from_ratio == 1.0:
        return x
    t = times(len(x), sr)
    speed = from_ratio ** np.exp(-t / glide_s)
    return np.interp(np.cumsum(speed) - speed[0], np.arange(len(x)), x, right=0.0)


def sitar(freq: float, n: int, sr: int, rng) -> np.ndarray:
    """Sitar: a bright pluck through the jawari bridge (a buzzy asymmetric clip) plus a sympathetic
    resonance band (slides come from `bend`)."""
    string = pluck(freq, n, sr, rng, brightness=0.9, decay=0.998)
    buzz = np.tanh(3.0 * string + 0.6 * np.abs(string))
    return 0.6 * buzz + 0.4 * bandpass(buzz, 1800, 4200, sr)


# ---------------------------------------------------------------- placing notes on a track

class Renderer:
    """A track-long buffer plus a note cache: `add(voice, key, at_s, dur_s, gain, **kw)` renders
    `voice(n=..., **kw)` once per distinct (key, length) and mixes it in at `at_s`."""

    def __init__(self, n: int, sr: int):
        self.n, self.sr = n, sr
        self.buffer = np.zeros(n)
        self._cache: dict = {}

    def sample(self, key, n: int, render) -> np.ndarray:
        if (key, n) not in self._cache:
            self._cache[(key, n)] = render(n)
        return self._cache[(key, n)]

    def place(self, samples: np.ndarray, at_s: float, gain: float) -> None:
        start = int(round(at_s * self.sr))
        if start >= self.n or start + len(samples) <= 0:
            return
        if start < 0:
            samples, start = samples[-start:], 0
        end = min(start + len(samples), self.n)
        self.buffer[start:end] += gain * samples[: end - start]

    def note(self, key, at_s: float, dur_s: float, gain: float, render) -> None:
        n = max(int(round(dur_s * self.sr)), 16)
        self.place(self.sample(key, n, render), at_s, gain)

    def take(self) -> np.ndarray:
        out, self.buffer, self._cache = self.buffer, np.zeros(self.n), {}
        return out
