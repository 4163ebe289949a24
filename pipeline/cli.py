"""`python -m pipeline ...`: the user's one-off jobs. Stages and CLI call the same functions.

  python -m pipeline download librispeech --subset NAME --root DIR [--base-url URL] [--md5 HEX]
  python -m pipeline download mtat --root DIR [--base-url URL]
  python -m pipeline transcribe FILE... [--model models/content_encoder.pt]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.errors import UserError, exit_on_user_error


def _base_url(args) -> str:
    """`--base-url`, else the corpus's `data.<corpus>.base_url` in ./params.yaml."""
    if args.base_url:
        return args.base_url
    from pipeline.config import load_params

    if not Path("params.yaml").is_file():
        raise UserError(f"no --base-url given and no params.yaml here to read data.{args.corpus}.base_url from: "
                        "give --base-url or run from the project root")
    return getattr(load_params().data, args.corpus).base_url


def _download(args) -> int:
    if args.corpus == "librispeech":
        from pipeline.data.librispeech import download_librispeech

        if not args.subset:
            raise UserError("download librispeech needs --subset NAME")
        download_librispeech(args.root, [args.subset], base_url=_base_url(args), md5=args.md5)
    else:
        from pipeline.data.mtat import download_mtat

        if args.subset or args.md5:
            raise UserError("download mtat takes no --subset / --md5 (its checksums are fixed)")
        download_mtat(args.root, base_url=_base_url(args))
    return 0


def _transcribe(args) -> int:
    from pipeline.audio import load_audio
    from pipeline.models.content_encoder import load_content_encoder

    model = load_content_encoder(args.model)
    waveforms = [load_audio(path, model.front_end.sample_rate) for path in args.files]
    for path, waveform in zip(args.files, waveforms):
        text = model.transcribe(waveform)
        print(text if len(args.files) == 1 else f"{path}\t{text}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    download = commands.add_parser("download", help="fetch a real corpus (resumable, md5-verified)")
    download.add_argument("corpus", choices=["librispeech", "mtat"])
    download.add_argument("--root", required=True, help="folder to download and extract into")
    download.add_argument("--subset", help="LibriSpeech subset, e.g. dev-clean")
    download.add_argument("--base-url", help="mirror or test server base URL (default: data.<corpus>.base_url "
                                             "in params.yaml)")
    download.add_argument("--md5", help="expected md5 of the LibriSpeech archive (default: the official one)")
    download.set_defaults(run=_download)

    transcribe = commands.add_parser("transcribe", help="print the transcript of audio files")
    transcribe.add_argument("files", nargs="+", help="audio files (any rate / channels libsndfile reads)")
    transcribe.add_argument("--model", default="models/content_encoder.pt", help="trained content encoder")
    transcribe.set_defaults(run=_transcribe)
    return parser


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
