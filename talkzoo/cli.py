"""The `talkzoo` command. The app layer: imports everything else lazily so `talkzoo --help` is instant.

    talkzoo synth OUT [--seconds S] [--size N] [--seed K]
    talkzoo validate SPEAKER
    talkzoo recipes
    talkzoo fit|validate|test|predict --config RECIPE|FILE [--data.* ...] [--trainer.* ...]
    talkzoo generate --method NAME --speaker S --audio A --out O.mp4 [--run-dir DIR]
    talkzoo serve --run-dir DIR --speaker S [--method NAME] [--host H] [--port P] [--max-sessions N] [--token T]
    talkzoo bench [--out bench.json] [--only NAMES] [--quick]
    talkzoo avatar VIDEO --out DIR [--methods a,b] [--budget fast|cpu|gpu|FILE] [--audio A ...] [--verbose]
    talkzoo demo [--fast] [--out DIR]

Errors a user can cause end with one line naming the cause and the fix and a non-zero exit; `--debug` (anywhere
on the command line) shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from talkzoo.zoo.errors import UserError

LIGHTNING_COMMANDS = ("fit", "validate", "test", "predict")


def _synth(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="talkzoo synth",
        description="Write a synthetic talking video OUT/raw.mp4 and its ground-truth speaker folder OUT/speaker.",
    )
    parser.add_argument("out", help="output folder")
    parser.add_argument("--seconds", type=float, default=20.0, help="duration in seconds (default 20)")
    parser.add_argument("--size", type=int, default=512, help="square frame size in pixels (default 512)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the motion (default 0)")
    parser.add_argument(
        "--style",
        choices=("easy", "hard"),
        default="easy",
        help="easy: the photo warped in 2-D (default); hard: a textured 3-D head turning out of plane (yaw ±25°), "
        "moving light, textured background, sensor noise, H.264 at crf 23",
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.size < 32:
        raise UserError(f"--seconds must be > 0 and --size ≥ 32 (got {args.seconds}, {args.size})")
    from talkzoo.datamodules.synthetic import synthesize

    out = synthesize(args.out, seconds=args.seconds, size=args.size, seed=args.seed, progress=True, style=args.style)
    print(f"wrote {out / 'raw.mp4'} and {out / 'speaker'}")
    return 0


def _validate_speaker(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="talkzoo validate", description="Check a speaker folder; exit 1 with one line per problem."
    )
    parser.add_argument("speaker", help="speaker folder (holds speaker.json)")
    args = parser.parse_args(argv)
    from talkzoo.datamodules.validate import validate_speaker

    report = validate_speaker(args.speaker)
    if report.summary:
        print(f"speaker {args.speaker}")
        print(report.format_summary())
    for problem in report.problems:
        print(f"problem: {problem}", file=sys.stderr)
    print("ok" if report.ok else f"{len(report.problems)} problem(s)", file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def _demo(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="talkzoo demo",
        description="`talkzoo avatar` on the embedded synthetic speaker (offline): synthesise a talking video, then "
        "preprocess, train every method, generate, evaluate and write report.html.",
    )
    parser.add_argument("--fast", action="store_true", help="the `fast` budget: a smaller video, minutes on 2 cores")
    parser.add_argument("--budget", default=None, help="a budget name or YAML file with a `demo:` section")
    parser.add_argument("--out", default=None, help="output folder (default outputs/demo, --fast: outputs/demo_fast)")
    parser.add_argument("--methods", default=None, help="comma-separated registered methods (default: moda,ernerf)")
    parser.add_argument("--pictures", default=None, help="also copy the PNGs here (the README's: docs/images)")
    parser.add_argument("--verbose", action="store_true", help="show every library's own output")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    from talkzoo.pipelines.demo import run_demo

    out = args.out or ("outputs/demo_fast" if args.fast and args.budget is None else "outputs/demo")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else None
    run_demo(out, fast=args.fast, budget=args.budget, methods=methods, verbose=args.verbose,
             progress=not args.quiet, pictures=args.pictures)  # fmt: skip
    return 0


def _avatar(argv: Sequence[str]) -> int:
    from talkzoo.pipelines.avatar import main as avatar_main

    return avatar_main(argv)


def _bench(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="talkzoo bench", description="The performance suite (medians of repeats).")
    parser.add_argument("--out", default=None, help="write the results as JSON here (e.g. bench.json)")
    parser.add_argument("--only", default=None, help="comma-separated benchmark names (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one repeat (a smoke run)")
    args = parser.parse_args(argv)
    from talkzoo.pipelines.bench import run_bench

    only = [name for name in args.only.split(",") if name] if args.only else None
    run_bench(args.out, only=only, quick=args.quick)
    return 0


def _preprocess(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="talkzoo preprocess",
        description="Turn a talking-head video into a speaker folder (resumable: re-run the same command to resume).",
    )
    parser.add_argument("video", help="input video (mp4, mov, mkv, webm; any fps, any audio rate)")
    parser.add_argument("out", help="output speaker folder")
    parser.add_argument("--size", type=int, default=512, help="square frame size in pixels (default 512)")
    parser.add_argument("--fps", type=float, default=25.0, help="output frame rate (default 25)")
    parser.add_argument("--features", default="mel", help="audio features, comma-separated: mel,wav2vec2,hubert")
    parser.add_argument("--wav2vec2-model", default=None, help="wav2vec2 weights: Hugging Face id or local folder")
    parser.add_argument("--hubert-model", default=None, help="HuBERT weights: Hugging Face id or local folder")
    parser.add_argument("--workers", type=int, default=2, help="threads for decoding and image encoding (default 2)")
    parser.add_argument("--focal", type=float, default=0.0, help="pinhole focal in pixels (default 2.5 × size)")
    parser.add_argument(
        "--val-seconds", type=float, default=None, help="held-out seconds at the end (default: the last 1/11)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    from talkzoo.datamodules.preprocess import PreprocessConfig, preprocess
    from talkzoo.datamodules.preprocess.config import SUPPORTED_FEATURES

    features = tuple(name.strip() for name in args.features.split(",") if name.strip())
    unknown = [name for name in features if name not in SUPPORTED_FEATURES]
    if unknown or args.size < 64 or args.fps <= 0 or args.workers < 1:
        raise UserError(
            f"bad options (features {', '.join(unknown) or 'ok'}, size {args.size}, fps {args.fps}, workers "
            f"{args.workers}); use --features from {','.join(SUPPORTED_FEATURES)}, --size ≥ 64, --fps > 0, "
            "--workers ≥ 1"
        )
    models = {k: v for k, v in (("wav2vec2", args.wav2vec2_model), ("hubert", args.hubert_model)) if v}
    config = PreprocessConfig(args.size, args.fps, features, models, workers=args.workers, focal=args.focal,
                              val_seconds=args.val_seconds)  # fmt: skip
    result = preprocess(args.video, args.out, config, progress=not args.quiet)
    done = f"ran {', '.join(result.ran)}" if result.ran else "nothing to do"
    print(f"wrote {result.root} ({done}; skipped {len(result.skipped)} finished step(s))")
    return 0


def _import_ernerf(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="talkzoo import-ernerf",
        description="Convert a folder processed by the ER-NeRF / RAD-NeRF pipeline into a talkzoo speaker folder.",
    )
    parser.add_argument("dir", help="ER-NeRF data folder (transforms_train.json, ori_imgs/, parsing/, ...)")
    parser.add_argument("out", help="output speaker folder (must not exist yet)")
    parser.add_argument("--fps", type=float, default=25.0, help="frame rate of the processed frames (default 25)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    from talkzoo.datamodules.importers.ernerf import import_ernerf

    out = import_ernerf(args.dir, args.out, fps=args.fps, progress=not args.quiet)
    print(f"wrote {out}")
    return 0


def _generate(argv: Sequence[str]) -> int:
    from talkzoo.pipelines.generate import main as generate_main

    return generate_main(argv)


def _recipes(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="talkzoo recipes", description="The registered methods, their training stages, and every shipped recipe."
    )
    parser.parse_args(argv)
    from talkzoo.methods import METHODS
    from talkzoo.recipes import CONFIG_ROOT, recipe_files

    print("methods (talkzoo generate --method NAME; talkzoo avatar --methods NAME,...):")
    for method in METHODS.values():
        print(f"  {method.name:<16} {method.summary}")
        for stage in method.stages:
            preset = f" + {stage.cpu_preset}" if stage.cpu_preset else ""
            print(f"  {'':<16}   stage {stage.name}: --config {stage.recipe}{preset} — {stage.summary}")
    print(f"\nrecipes and presets (talkzoo fit --config NAME [--config NAME ...]; files in {CONFIG_ROOT}):")
    for recipe in recipe_files():
        print(f"  {recipe.name:<24} {recipe.kind:<8} {recipe.summary}")
    return 0


def _evaluate(argv: Sequence[str]) -> int:
    from talkzoo.pipelines.evaluate import main as evaluate_main

    return evaluate_main(list(argv))


def _serve(argv: Sequence[str]) -> int:
    from talkzoo.serve.command import main as serve_main  # aiortc / aiohttp load only for this command

    return serve_main(argv)


def _lightning(argv: Sequence[str]) -> int:
    from talkzoo.pipelines.train import run_lightning_cli
    from talkzoo.recipes import resolve_config_args

    run_lightning_cli(resolve_config_args(list(argv)))
    return 0


def _is_lightning_call(command: str, rest: Sequence[str]) -> bool:
    """`validate` is both the speaker check and LightningCLI's subcommand: options make it LightningCLI's."""
    if command != "validate":
        return command in LIGHTNING_COMMANDS
    return any(arg.startswith("-") and arg not in ("-h", "--help") for arg in rest)


COMMANDS: dict[str, tuple[Callable[[Sequence[str]], int], str]] = {
    "synth": (_synth, "synthetic talking video + ground-truth speaker (the embedded default data)"),
    "preprocess": (_preprocess, "video -> speaker folder: talkzoo preprocess VIDEO OUT [--size N] [--fps F]"),
    "import-ernerf": (_import_ernerf, "ER-NeRF / RAD-NeRF processed folder -> speaker: talkzoo import-ernerf DIR OUT"),
    "validate": (_validate_speaker, "check a speaker folder (or LightningCLI validate with --config)"),
    "recipes": (_recipes, "the registered methods, their stages, and every recipe and preset"),
    "fit": (_lightning, "train a recipe: talkzoo fit --config RECIPE [--config PRESET ...]"),
    "generate": (_generate, "new audio -> video: talkzoo generate --method NAME --speaker S --audio A --out O"),
    "evaluate": (_evaluate, "score a video against a speaker: talkzoo evaluate PRED.mp4 SPEAKER [--out metrics.json]"),
    "serve": (_serve, "a trained avatar live over WebRTC: talkzoo serve --run-dir DIR --speaker S [--method NAME]"),
    "bench": (_bench, "the performance suite: talkzoo bench [--out bench.json] [--only a,b] [--quick]"),
    "avatar": (_avatar, "a video -> trained avatars + report.html: talkzoo avatar VIDEO --out DIR [--budget fast]"),
    "demo": (_demo, "talkzoo avatar on the embedded synthetic speaker: talkzoo demo [--fast] [--out DIR]"),
    "test": (_lightning, "test a recipe (LightningCLI)"),
    "predict": (_lightning, "predict with a recipe (LightningCLI)"),
}


def _usage() -> str:
    lines = ["usage: talkzoo COMMAND [ARGS] [--debug]", "", "commands:"]
    lines += [f"  {name:<10} {help_text}" for name, (_, help_text) in COMMANDS.items()]
    lines += ["", "`talkzoo COMMAND --help` for the options of one command."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in COMMANDS and command not in LIGHTNING_COMMANDS:
        print(f"talkzoo: unknown command {command!r}; run `talkzoo --help` for the list", file=sys.stderr)
        return 2
    handler = _lightning if _is_lightning_call(command, rest) else COMMANDS[command][0]
    try:
        return handler([command, *rest] if handler is _lightning else rest)
    except (UserError, FileNotFoundError) as exc:
        if debug:
            raise
        print(f"talkzoo {command}: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    except KeyboardInterrupt:
        print(f"talkzoo {command}: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
