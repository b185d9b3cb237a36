"""`martinet voice say`: hear a voice message as the recipient will, before sending it (docs/voice.md)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from martinet.cli.preamble import SettingsLoader, Where
from martinet.config import Settings
from martinet.domain.voice import DEFAULT_LANGUAGE, LANGUAGES, script, title_for, voice_problem
from martinet.voice.synthesis import EspeakSynthesizer, Speech, SynthesisError


def add_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    where: Where,
    settings: SettingsLoader,
) -> None:
    voice = subparsers.add_parser("voice", help="voice messages").add_subparsers(required=True, metavar="ACTION")
    say = voice.add_parser(
        "say",
        help="synthesise a voice message into a WAV file (8 kHz, as the telephone carries it)",
        description="Synthesise TEXT as a call reads it: the title, then the message (repeated), codes spelled.",
    )
    say.add_argument("text", metavar="TEXT")
    say.add_argument("--language", default=DEFAULT_LANGUAGE, choices=LANGUAGES)
    say.add_argument("--title", default=None, help="read first (default: the platform's introduction)")
    say.add_argument("--repeat", type=int, default=None, help="times the message is read (default: voice.repeat)")
    say.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.wav")
    where(say)
    say.set_defaults(func=lambda args: _say(args, settings(args)))


def _say(args: argparse.Namespace, settings: Settings) -> int:
    problem = voice_problem(args.text, args.title, args.language)
    if problem is not None:
        print(f"martinet voice say: {problem[0]}: {problem[1]}", file=sys.stderr)
        return 2
    title = args.title if args.title is not None else title_for(settings.voice.platform, args.language)
    repeat = args.repeat if args.repeat is not None else settings.voice.repeat
    speech = Speech(EspeakSynthesizer(voices=settings.voice.voices, speed=settings.voice.speed), cache_size=0)
    try:
        audio = asyncio.run(speech.audio(script(title, args.text, repeat), args.language))
    except SynthesisError as exc:
        print(f"martinet voice say: {exc}", file=sys.stderr)
        return 1
    audio.write_wav(args.output)
    print(f"{args.output}: {audio.seconds:.1f} s", file=sys.stderr)
    return 0
