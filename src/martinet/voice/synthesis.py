"""Speech synthesis: an interface, the espeak-ng implementation, and a cache in front of either.

The synthesiser is blocking (a subprocess); the engine calls it through `Speech`, which runs it in a worker
thread, so the event loop that paces RTP packets never waits for it, and which keeps what it synthesised keyed
by (text, language, voice): a campaign reading one text to many people synthesises it once.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import subprocess
import threading
import wave
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from martinet.voice.g711 import SAMPLE_RATE, Law, encode

#: espeak-ng's voice for each language a voice message may be read in.
ESPEAK_VOICES: Final[dict[str, str]] = {"fr-FR": "fr-fr", "en-GB": "en-gb", "de-DE": "de", "es-ES": "es"}

#: Longest a synthesis may take before it is abandoned (a wedged subprocess must not hold a call forever).
SYNTHESIS_TIMEOUT: Final = 30.0


class SynthesisError(RuntimeError):
    """The synthesiser could not read the text (missing program, failure, timeout)."""


@dataclass(frozen=True, slots=True)
class Audio:
    """Mono speech at 8 kHz, as signed 16-bit native-endian samples: what a telephone call carries."""

    pcm16: bytes

    @property
    def seconds(self) -> float:
        return len(self.pcm16) / 2 / SAMPLE_RATE

    def g711(self, law: Law) -> bytes:
        return encode(self.pcm16, law)

    def write_wav(self, path: Path) -> None:
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(SAMPLE_RATE)
            out.writeframes(self.pcm16)


class Synthesizer(Protocol):
    """Reads `text` aloud in `language` (one of domain.voice.LANGUAGES), with `voice` if given."""

    def synthesize(self, text: str, language: str, voice: str | None = None) -> Audio: ...


class EspeakSynthesizer:
    """espeak-ng, resampled to 8 kHz by sox: both Debian packages (`espeak-ng`, `sox`)."""

    def __init__(self, *, voices: Mapping[str, str] | None = None, speed: int = 150) -> None:
        self._voices = {**ESPEAK_VOICES, **(voices or {})}
        self._speed = speed

    @staticmethod
    def missing() -> list[str]:
        """The Debian packages whose programs are not installed."""
        return [package for package in ("espeak-ng", "sox") if shutil.which(package) is None]

    def unknown_voices(self) -> list[str]:
        """The voices of `voice.voices` that espeak-ng does not have (none when it is not installed: `missing`
        says so). For a configuration check or a start-up to refuse what would only fail each message later."""
        espeak = shutil.which("espeak-ng")
        if espeak is None:
            return []
        return sorted({v for v in self._voices.values() if not known_voice(v, espeak_voices(espeak))})

    def synthesize(self, text: str, language: str, voice: str | None = None) -> Audio:
        espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
        if espeak is None or sox is None:
            raise SynthesisError(f"speech synthesis needs the package(s) {', '.join(self.missing())}")
        chosen = voice or self._voices.get(language) or ESPEAK_VOICES["fr-FR"]
        # espeak-ng reads a voice it does not have with the nearest it finds ("no-such-voice" in Norwegian,
        # "fr-zz" in French, an unknown "+variant" ignored) and exits 0: the message would be read to people in
        # a language nobody chose. A voice `espeak-ng --voices` does not list fails the message instead (36).
        if not known_voice(chosen, espeak_voices(espeak)):
            raise SynthesisError(
                f"espeak-ng has no voice {chosen!r} (for {language}; `espeak-ng --voices` lists those it has)"
            )
        # No shell; the text comes after "--", so a text starting with "-" is read, not taken for an option.
        try:
            speech = subprocess.run(  # noqa: S603
                [espeak, "-v", chosen, "-s", str(self._speed), "--stdout", "--", text],
                capture_output=True,
                timeout=SYNTHESIS_TIMEOUT,
                check=True,
            )
            resampled = subprocess.run(  # noqa: S603
                [
                    sox,
                    "-q",
                    "-t",
                    "wav",
                    "-",
                    "-t",
                    "raw",
                    "-r",
                    str(SAMPLE_RATE),
                    "-c",
                    "1",
                    "-e",
                    "signed",
                    "-b",
                    "16",
                    "-L",
                    "-",
                ],
                input=speech.stdout,
                capture_output=True,
                timeout=SYNTHESIS_TIMEOUT,
                check=True,
            )
        except subprocess.CalledProcessError as exc:
            detail = exc.stderr.decode("utf-8", "replace").strip()[:200] if exc.stderr else ""
            raise SynthesisError(f"{exc.cmd[0]} failed ({exc.returncode}): {detail}") from None
        except subprocess.TimeoutExpired as exc:
            raise SynthesisError(f"{exc.cmd[0]} took more than {SYNTHESIS_TIMEOUT:.0f} s") from None
        pcm = resampled.stdout
        if not pcm:
            raise SynthesisError("the synthesiser produced no sound")
        return Audio(_from_little_endian(pcm))


@dataclass(frozen=True, slots=True)
class EspeakVoices:
    """The names espeak-ng takes for a voice (`-v NAME`) and for a variant (`-v NAME+VARIANT`), lower-cased."""

    voices: frozenset[str]
    variants: frozenset[str]


@functools.lru_cache(maxsize=4)
def espeak_voices(espeak: str) -> EspeakVoices:
    """What `espeak-ng --voices` lists, read once per program: a voice is named by its language ("fr-fr"), its
    file ("roa/fr", or "fr"), its name ("Klingon") or one of its other languages ("en"), in any case."""

    def listed(option: str) -> frozenset[str]:
        try:
            run = subprocess.run(  # noqa: S603
                [espeak, option], capture_output=True, timeout=SYNTHESIS_TIMEOUT, check=True, text=True
            )
        except (subprocess.SubprocessError, OSError) as exc:
            raise SynthesisError(f"espeak-ng {option} failed: {exc}") from None
        names: set[str] = set()
        for line in run.stdout.splitlines()[1:]:  # the first line is the header
            fields = line.split()
            if len(fields) < 5:
                continue
            language, name, file = fields[1], fields[3], fields[4]
            others = [f.strip("()") for f in fields[5:] if f.startswith("(")]
            names.update(n.lower() for n in (language, name, file, file.rsplit("/", 1)[-1], *others))
        return frozenset(names)

    return EspeakVoices(listed("--voices"), listed("--voices=variant"))


def known_voice(voice: str, known: EspeakVoices) -> bool:
    """Whether espeak-ng has `voice` ("fr-fr", "en-gb+f3"), rather than falling back silently to another."""
    name, _, variant = voice.strip().lower().partition("+")
    return name in known.voices and (not variant or variant in known.variants)


def _from_little_endian(pcm: bytes) -> bytes:
    import sys

    if sys.byteorder == "little":
        return pcm
    import array

    samples = array.array("h")
    samples.frombytes(pcm)
    samples.byteswap()
    return samples.tobytes()


class Speech:
    """The synthesiser as the engine uses it: off the event loop, cached by (text, language, voice).

    Concurrent requests for one key share one synthesis.
    """

    def __init__(self, synthesizer: Synthesizer, *, cache_size: int = 256) -> None:
        self._synthesizer = synthesizer
        self._cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str, str | None], Audio] = OrderedDict()
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str, str | None], asyncio.Future[Audio]] = {}
        self.syntheses = 0  # how many times the synthesiser ran (the cache's misses)

    async def audio(self, text: str, language: str, voice: str | None = None) -> Audio:
        key = (text, language, voice)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Audio] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            audio = await asyncio.to_thread(self._synthesizer.synthesize, text, language, voice)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
                future.exception()  # retrieved: a synthesis nobody else waited for is not an unhandled error
            raise
        finally:
            del self._pending[key]
        self.syntheses += 1
        future.set_result(audio)
        with self._lock:
            if self._cache_size:
                self._cache[key] = audio
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return audio
