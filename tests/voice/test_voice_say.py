"""`martinet voice say`, run as an operator runs it: the WAV it writes is what a call would play."""

from __future__ import annotations

import wave
from pathlib import Path

from tests.cli.support import martinet_all
from tests.voice.support import require_speech

OTHERS = ("en-GB", "de-DE", "es-ES")


def _wav(path: Path) -> tuple[int, int, int, float]:
    with wave.open(str(path), "rb") as audio:
        frames = audio.getnframes()
        return audio.getnchannels(), audio.getsampwidth(), audio.getframerate(), frames / audio.getframerate()


def test_voice_say_writes_the_message_as_the_telephone_carries_it(tmp_path: Path) -> None:
    require_speech()
    text = "Votre code est 482913"
    twice, once, refused, italian, *others = martinet_all(
        [
            ["voice", "say", text, "--language", "fr-FR", "-o", tmp_path / "twice.wav"],
            ["voice", "say", text, "--title", "", "--repeat", "1", "-o", tmp_path / "once.wav"],
            ["voice", "say", "x" * 161, "-o", tmp_path / "refused.wav"],
            ["voice", "say", text, "--language", "it-IT", "-o", tmp_path / "italian.wav"],
            *(["voice", "say", text, "--language", lang, "-o", tmp_path / f"{lang}.wav"] for lang in OTHERS),
        ],
        cwd=tmp_path,
    )
    assert twice.returncode == 0 and once.returncode == 0, twice.stderr + once.stderr
    channels, width, rate, long = _wav(tmp_path / "twice.wav")
    assert (channels, width, rate) == (1, 2, 8000)
    short = _wav(tmp_path / "once.wav")[3]
    # The default title and a second reading make the first more than twice as long as the message read once.
    assert long > 2 * short > 0
    assert twice.stderr.strip() == f"{tmp_path / 'twice.wav'}: {long:.1f} s"
    assert refused.returncode == 2 and "text: longer than 160 characters" in refused.stderr
    assert italian.returncode == 2 and "--language: invalid choice: 'it-IT'" in italian.stderr
    assert not (tmp_path / "refused.wav").exists() and not (tmp_path / "italian.wav").exists()
    # Every language of the door has its voice.
    assert [r.returncode for r in others] == [0] * len(OTHERS), [r.stderr for r in others]
    assert all(_wav(tmp_path / f"{lang}.wav")[:3] == (1, 2, 8000) for lang in OTHERS)
