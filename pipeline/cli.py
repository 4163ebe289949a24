"""`python -m pipeline ...`: the user's one-off jobs. Stages and CLI call the same functions.

  python -m pipeline download librispeech --subset NAME --root DIR [--base-url URL] [--md5 HEX]
  python -m pipeline download mtat --root DIR [--base-url URL]
  python -m pipeline transcribe FILE... [--model models/content_encoder.pt]
  python -m pipeline generate SPEECH -o OUT.wav [--style REF ...] [--beat INSTRUMENTAL] [--seed N]
                              [--steps N] [--style-weight W] [--flow none|beat] [--models DIR]
  python -m pipeline check-metrics --committed DIR [--reproduced metrics] [--tolerances metrics/tolerances.yaml]
"""
from __future__ import annotations

import argparse
import os
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


def _require_models(*paths: Path) -> None:
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise UserError(f"trained models missing ({', '.join(missing)}): run `make repro` first")


def _check_writable(path: Path) -> None:
    """Refuse an output path before any work: a folder, an unsupported suffix, a parent that
    cannot be created or written."""
    if path.suffix.lower() not in (".wav", ".flac", ".mp3"):
        raise UserError(f"cannot write {path}: use a .wav, .flac or .mp3 name")
    if path.is_dir():
        raise UserError(f"cannot write {path}: it is a folder")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"cannot write {path}: {parent} is not a writable folder")


def _transcribe(args) -> int:
    from pipeline.audio import load_clip
    from pipeline.models.content_encoder import load_content_encoder

    _require_models(Path(args.model))
    model = load_content_encoder(args.model)
    waveforms = [load_clip(path, model.front_end.sample_rate) for path in args.files]
    for path, waveform in zip(args.files, waveforms):
        text = model.transcribe(waveform)
        print(text if len(args.files) == 1 else f"{path}\t{text}")
    return 0


def _generate(args) -> int:
    import dataclasses

    import torch

    from pipeline.audio import load_clip, save_audio
    from pipeline.config import GenerationMethodConfig, load_params, parse, to_dict
    from pipeline.generation.generator import default_beat, load_generator
    from pipeline.generation.targets import reference_statistics

    models = Path(args.models)
    paths = [models / name for name in ("content_encoder.pt", "style_encoder.pt", "style_targets.pt")]
    _require_models(*paths)
    output = Path(args.output)
    _check_writable(output)
    if not Path("params.yaml").is_file():
        raise UserError("no params.yaml here to read generate.* from: run from the project root")
    params = load_params()
    config, rate = params.generate, params.audio.sample_rate
    speech = load_clip(args.speech, rate)
    beat = load_clip(args.beat, rate) if args.beat else None
    references = [load_clip(p, rate) for p in args.style or []]
    overrides = {k: v for k, v in (("steps", args.steps), ("style_weight", args.style_weight), ("flow", args.flow))
                 if v is not None}
    method = parse(GenerationMethodConfig, {**to_dict(config.method), **overrides}, "generate.method")
    if config.threads:
        torch.set_num_threads(config.threads)
    generator = load_generator(*paths, config)
    if beat is None:
        beat = default_beat(generator.targets, args.seed)
    if references:
        spectrogram = generator.front_end.spectrogram()
        statistics = reference_statistics(generator.style_encoder, [spectrogram(torch.from_numpy(r)) for r in references])
        generator.targets = dataclasses.replace(statistics, beats=generator.targets.beats)
    if method.init == "mix" and beat is None:
        raise UserError("generate.method.init is mix but no beat: pass --beat INSTRUMENTAL")
    if method.flow == "beat" and beat is None and config.flow.bpm is None:
        raise UserError("--flow beat needs a beat to follow: pass --beat INSTRUMENTAL or set generate.flow.bpm")
    result = generator.generate(speech, method, args.seed, beat=beat, progress=True)
    try:
        save_audio(output, result.waveform, rate)
    except OSError as err:
        raise UserError(f"cannot write {output}: {err.strerror or err}") from None
    print(f"wrote {output} ({len(result.waveform) / rate:.2f} s from {len(speech) / rate:.2f} s of speech, "
          f"{result.seconds:.1f} s to generate)", file=sys.stderr)
    return 0


def _check_metrics(args) -> int:
    from pipeline.evaluation.metric_check import check_metrics, table

    rows = check_metrics(args.committed, args.reproduced, args.tolerances)
    print(table(rows))
    breaches = [r.metric for r in rows if r.breach]
    new = sum(r.status == "new" for r in rows)
    print(f"{len(rows)} metrics: {len(breaches)} outside tolerance, {new} new (not committed, not checked)")
    if breaches:
        print(f"error: {len(breaches)} metrics outside tolerance: {', '.join(breaches[:10])}"
              + (" ..." if len(breaches) > 10 else ""), file=sys.stderr)
    return 1 if breaches else 0


def _non_negative(kind):
    def convert(text: str):
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
        return value
    return convert


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

    generate = commands.add_parser("generate", help="turn a speech clip into hip-hop-styled music")
    generate.add_argument("speech", help="speech audio (any rate / channels libsndfile reads)")
    generate.add_argument("-o", "--output", required=True, help="output audio (.wav, 16 kHz)")
    generate.add_argument("--style", nargs="+", metavar="REF", help="hip-hop reference clips (default: the corpus's "
                                                                   "hip-hop train segments, precomputed)")
    generate.add_argument("--beat", metavar="INSTRUMENTAL", help="beat laid under the speech (default: one of the "
                                                                "corpus's hip-hop instrumentals, picked by --seed)")
    generate.add_argument("--seed", type=_non_negative(int), default=0)
    generate.add_argument("--steps", type=_non_negative(int), help="optimisation steps (default: generate.method.steps)")
    generate.add_argument("--style-weight", type=_non_negative(float),
                          help="Gram style weight (default: generate.method.style_weight)")
    generate.add_argument("--flow", choices=["none", "beat"],
                          help="beat: move the words' onsets onto the beat's grid first; the output may then be "
                               "a little longer or shorter than the input (default: generate.method.flow)")
    generate.add_argument("--models", default="models", help="folder of the trained models")
    generate.set_defaults(run=_generate)

    check = commands.add_parser("check-metrics", help="compare rebuilt metrics with committed ones, each within "
                                                      "its declared tolerance (exit 1 on a breach)")
    check.add_argument("--committed", required=True, help="folder of the committed metrics/*.json (a copy taken "
                                                          "before the rebuild)")
    check.add_argument("--reproduced", default="metrics", help="folder of the rebuilt metrics")
    check.add_argument("--tolerances", default="metrics/tolerances.yaml", help="the per-metric tolerances")
    check.set_defaults(run=_check_metrics)
    return parser


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
