"""`talkzoo avatar VIDEO --out DIR`: from one video of a person to trained talking avatars, videos and a report.

    talkzoo avatar me.mp4 --out outputs/me                                   # every method, the `cpu` budget
    talkzoo avatar me.mp4 --out outputs/me --methods moda --budget fast --audio new.wav

1. preprocess the video (`talkzoo preprocess`) → DIR/speaker (the end of the video is held out: --val-seconds);
2. train every stage of each chosen method (talkzoo.methods), plus the motion stages they read, through
   LightningCLI (`talkzoo fit`) → DIR/runs/<stage>, each resuming from its last checkpoint;
3. generate every method from the held-out audio (DIR/<method>.mp4) and from each --audio
   (DIR/<audio name>/<method>.mp4);
4. evaluate (`talkzoo evaluate` against the held-out frames, two still-image baselines, MODA's motion against the
   mean-motion baseline);
5. report: DIR/report.html (one self-contained file), metrics.json, side_by_side.mp4 and the PNGs.

The budget (configs/budgets/NAME.yaml or a file of yours; talkzoo.pipelines.avatar_budget) says how big and how
long. Re-running resumes; with a bigger budget training continues from the last checkpoints, and videos, scores
and the report are redone only for what changed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import shlex
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from talkzoo.methods import METHODS, Method, Stage, all_stages, get_method
from talkzoo.pipelines.avatar_budget import Budget, StageBudget, budget_names, load_budget
from talkzoo.pipelines.avatar_lanes import train_stages
from talkzoo.pipelines.avatar_scores import newer, score_videos
from talkzoo.pipelines.console import Console, clock, quiet_output
from talkzoo.pipelines.evaluate import to_json
from talkzoo.recipes import resolve_config
from talkzoo.zoo.errors import UserError

LABELS = {"moda": "MODA", "ernerf": "ER-NeRF", "talkinggaussian": "TalkingGaussian"}
DEFAULT_METHODS = ("moda", "ernerf")  # without --methods; other registered methods are opt-in (--methods a,b,c)
TILE = 192  # side-by-side tiles are at least this many pixels (a 96² speaker is shown at 2×)
SYNC_LEAD_FRAMES = 1  # evaluate_video's default: the mouth opening leads the sound by a frame when in sync


def label(method: str) -> str:
    return LABELS.get(method, method)


def chosen_methods(names: Sequence[str] | None) -> list[Method]:
    """The methods to run (default: DEFAULT_METHODS); UserError for an unknown name."""
    return [get_method(name) for name in (names or DEFAULT_METHODS)]


def stages_for(methods: Sequence[Method]) -> list[Stage]:
    """Every stage the methods need, in registry order: their own, then the motion stages they read."""
    stages: list[Stage] = []
    for method in methods:
        wanted = [*method.stages, *(all_stages()[s] for s in method.motion_stages)]
        stages += [s for s in wanted if s not in stages]
    order = [s for m in METHODS.values() for s in m.stages]
    return sorted(stages, key=order.index)


# ---- training ------------------------------------------------------------------------------------------------------
def fit_args(stage: Stage, share: StageBudget, speaker: Path, runs: Path, size: int, progress: bool,
             callbacks: Sequence[str] = ()) -> list[str]:  # fmt: skip
    """The `talkzoo fit` arguments of one stage (without --ckpt_path); callbacks: extra callback class paths."""
    args = ["fit", "--config", resolve_config(stage.recipe)]
    for preset in share.presets:
        args += ["--config", resolve_config(preset)]
    args += [
        "--trainer.default_root_dir", str(stage.run_dir(runs)),
        "--trainer.enable_progress_bar", "false",  # Lightning's bar counts epochs ("Epoch 33/-2"): StepProgress
        "--trainer.enable_model_summary", "false",
        "--trainer.limit_val_batches", "0",  # evaluation happens once, at the end, on the held-out clip
        "--trainer.num_sanity_val_steps", "0",
        *stage.fit_overrides(speaker, runs, size),
        *share.overrides,
    ]  # fmt: skip
    if share.steps is not None:
        args += ["--trainer.max_steps", str(share.steps)]
    if progress:
        args += ["--trainer.callbacks+=talkzoo.pipelines.console.StepProgress"]
    for callback in callbacks:
        args += [f"--trainer.callbacks+={callback}"]
    return args


def checkpoint_step(checkpoint: Path) -> int:
    return int(torch.load(checkpoint, map_location="cpu", weights_only=True)["global_step"])


def reused(stage: Stage, share: StageBudget, runs: Path) -> str | None:
    """What training `stage` would do when it has nothing to do: "reusing …" if its last checkpoint already has
    the budget's steps, else None."""
    last = stage.checkpoint(runs)
    if share.steps is None or not last.is_file():
        return None
    step = checkpoint_step(last)
    return f"reusing {last} (step {step})" if step >= share.steps else None


TRAINED_AGAINST = "trained_against.json"  # in a stage's run folder: the steps of the stages it read when trained


def record_requirements(stage: Stage, runs: Path) -> None:
    """After `stage` trained: the step of each stage it reads (`Stage.requires`), so that a later run can tell when
    one of them has trained on since (ER-NeRF's torso composites the head it was trained with; TalkingGaussian's
    fuse stores refined copies of the face and mouth branches)."""
    if stage.requires:
        checkpoints = {name: all_stages()[name].checkpoint(runs) for name in stage.requires}
        steps = {name: checkpoint_step(path) for name, path in checkpoints.items() if path.is_file()}
        (stage.run_dir(runs) / TRAINED_AGAINST).write_text(json.dumps(steps, indent=1) + "\n")


def changed_requirements(stage: Stage, runs: Path, training: Iterable[str]) -> list[str]:
    """The stages `stage` reads that make its existing run stale: those training in this run, and those whose
    checkpoint step differs from the one recorded when it was trained. [] without a run of `stage`; a run trained
    before the record existed counts as fresh unless one of its stages trains now."""
    if not stage.checkpoint(runs).is_file():
        return []
    record = stage.run_dir(runs) / TRAINED_AGAINST
    recorded = json.loads(record.read_text()) if record.is_file() else {}
    training = set(training)
    changed = []
    for name in stage.requires:
        checkpoint = all_stages()[name].checkpoint(runs)
        moved_on = name in recorded and checkpoint.is_file() and checkpoint_step(checkpoint) != recorded[name]
        if name in training or moved_on:
            changed.append(name)
    return changed


def set_aside(stage: Stage, runs: Path) -> Path:
    """Move the stage's run folder to <run>.stale (replacing an older one) so that it trains from scratch;
    → the new place of the old run."""
    import shutil

    target = stage.run_dir(runs).with_name(stage.name + ".stale")
    if target.exists():
        shutil.rmtree(target)
    stage.run_dir(runs).rename(target)
    return target


def fit_stage(stage: Stage, share: StageBudget, speaker: Path, runs: Path, size: int, progress: bool,
              callbacks: Sequence[str] = ()) -> str:  # fmt: skip
    """Train one stage to its budget, resuming from RUNS/<stage>/checkpoints/last.ckpt when it exists. → what it
    did. Stages `reused` says are done are skipped by the caller (train_stages), not here; with `steps: null` the
    recipe's own schedule decides (Lightning stops at once when a resumed run is done)."""
    from talkzoo.pipelines.train import run_lightning_cli

    args = fit_args(stage, share, speaker, runs, size, progress, callbacks)
    last = stage.checkpoint(runs)
    if not last.is_file():
        run_lightning_cli(args)
        record_requirements(stage, runs)
        return f"trained {checkpoint_step(last)} steps"
    step = checkpoint_step(last)
    run_lightning_cli([*args, "--ckpt_path", str(last)])
    record_requirements(stage, runs)
    return f"resumed at step {step}, now {checkpoint_step(last)}"


def fit_command(stage: Stage, share: StageBudget, speaker: Path, runs: Path, size: int) -> str:
    """The equivalent `talkzoo fit` command line (for the report)."""
    args = fit_args(stage, share, speaker, runs, size, progress=False)
    args[2] = stage.recipe
    for i, arg in enumerate(args):
        if arg == "--config" and i > 1 and i + 1 < len(args):
            args[i + 1] = Path(args[i + 1]).stem if Path(args[i + 1]).parent.name == "presets" else args[i + 1]
    return "talkzoo " + shlex.join(args)


# the still-image baselines scored beside the methods: (name in the report, file name)
BASELINES = (("mean train frame", "mean_frame"), ("reference image", "reference_image"))


# ---- generation and scores ------------------------------------------------------------------------------------------
def speaker_stamp(speaker: Path) -> Path:
    """A file (beside the speaker, in logs/) whose modification time changes only when the content of
    speaker/speaker.json does: a resumed preprocessing rewrites speaker.json unchanged, which must not make the
    held-out audio, the videos and the scores look stale."""
    digest = hashlib.sha256((speaker / "speaker.json").read_bytes()).hexdigest()
    stamp = speaker.parent / "logs" / f"{speaker.name}.sha256"
    if not stamp.is_file() or stamp.read_text() != digest:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest)
    return stamp


def method_checkpoints(method: Method, runs: Path) -> list[Path]:
    names = [s.name for s in method.stages] + list(method.motion_stages)
    return [all_stages()[n].checkpoint(runs) for n in names]


def generate_video(method: Method, speaker: Path, audio: Path, target: Path, runs: Path, progress: bool) -> bool:
    """method's Avatar over `audio` → target (kept when newer than the checkpoints and the audio); → whether ran."""
    from talkzoo.pipelines.generate import generate

    if newer(target, [*method_checkpoints(method, runs), audio]):
        return False
    generate(method.name, speaker, audio, target, run_dir=runs, device=None, progress=progress)
    return True


def evaluate_motion(checkpoint: Path, speaker: Path) -> dict[str, float]:
    """MODA's motion on the val split (audio never trained on) against the mean-motion baseline: LMD, LMD-v (px),
    mouth-area IoU, mouth-opening correlation, eye / head diversity, `improvement_over_baseline`."""
    import lightning as L

    from talkzoo.datamodules.sequence import MotionDataModule
    from talkzoo.lightning_modules.moda import MODA
    from talkzoo.lightning_modules.run_loading import load_run_module

    model = load_run_module(checkpoint, MODA)
    data = MotionDataModule([str(speaker)], window=100, stride=10, jitter=0, batch_size=4)
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    metrics = trainer.validate(model, datamodule=data, verbose=False)[0]
    result = {key.removeprefix("val/"): float(value) for key, value in metrics.items()}
    result["improvement_over_baseline"] = 1.0 - result["lmd"] / result["lmd_mean_baseline"]
    return result


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ---- the pipeline ---------------------------------------------------------------------------------------------------
def run_avatar(
    video: str | Path,
    out: str | Path,
    methods: Sequence[str] | None = None,
    budget: str | Path | Budget = "cpu",
    audios: Sequence[str | Path] = (),
    val_seconds: float | None = None,
    verbose: bool = False,
    progress: bool = True,
    pictures: str | Path | None = None,
    spent: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Run every step into `out` (see the module docstring); returns the metrics (also out/metrics.json).

    val_seconds: held-out seconds (None: the budget's, else the last 1/11). pictures: also copy the PNGs there.
    spent: seconds of steps run before this one for the same result (the demo's synthesis), counted in the totals.
    """
    video, out = Path(video), Path(out)
    if not video.is_file():
        raise UserError(f"{video}: video not found; pass an existing video file (mp4, mov, mkv, webm)")
    plan = budget if isinstance(budget, Budget) else load_budget(budget)
    chosen = chosen_methods(methods)
    stages = stages_for(chosen)
    shares = {stage.name: plan.stage(stage) for stage in stages}  # every entry checked before anything runs
    new_audio = [Path(a) for a in audios]
    for audio in new_audio:
        if not audio.is_file():
            raise UserError(f"--audio {audio}: file not found; pass an existing wav / mp3 / ogg / video with sound")
    held_out = val_seconds if val_seconds is not None else plan.val_seconds
    out.mkdir(parents=True, exist_ok=True)
    console = Console(total=len(stages) + 4, progress=progress, spent=spent)
    runs, speaker = out / "runs", out / "speaker"
    with quiet_output(out / "logs" / "avatar.log", verbose) as log, torch_threads(plan.threads):
        console.say(f"talkzoo avatar {video} → {out} (budget {plan.name}: {plan.path}; methods "
                    f"{', '.join(m.name for m in chosen)})" + (f"; details in {log}" if log else ""))  # fmt: skip
        split = "the last 1/11" if held_out is None else f"the last {held_out:g} s"
        with console.stage(f"preprocess at {plan.size}² ({split} held out) → {speaker}", "preprocess"):
            preprocess_video(video, speaker, plan.size, held_out, progress, verbose, console)
        train_stages(stages, shares, speaker, runs, plan.size, console, progress, plan.lanes, plan.threads, verbose,
                     plan.share_threads)  # fmt: skip
        with console.stage("generate from the held-out audio" + (" and the new audio" if new_audio else ""),
                           "generate"):  # fmt: skip
            videos, extra = generate_all(chosen, speaker, runs, out, new_audio, progress)
        with console.stage("evaluate against the held-out frames", "evaluate"):
            scores = evaluate_all(videos, speaker, runs, out, stages)
        with console.stage("report", "report"):
            metrics = write_outputs(out, video, speaker, plan, chosen, stages, shares, videos, extra, scores, console)
    metrics["seconds"] = {**console.seconds, "total": console.elapsed}
    (out / "metrics.json").write_text(json.dumps(to_json(metrics), indent=2))
    if pictures is not None:
        copy_pictures(out, Path(pictures))
    console.say("\n" + summary_table(metrics))
    console.say(f"\nreport: {out / 'report.html'} (+ metrics.json, side_by_side.mp4, PNGs) in "
                f"{clock(metrics['seconds']['total'])}")  # fmt: skip
    return metrics


def preprocess_video(
    video: Path, speaker: Path, size: int, val_seconds: float | None, progress: bool, verbose: bool, console: Console
) -> None:
    """`talkzoo preprocess` (resumable), then the validator; UserError when the result does not validate."""
    from talkzoo.datamodules.preprocess import PreprocessConfig, preprocess
    from talkzoo.datamodules.validate import validate_speaker

    result = preprocess(video, speaker, PreprocessConfig(size=size, val_seconds=val_seconds), progress=progress,
                        log=verbose)  # fmt: skip
    report = validate_speaker(speaker)
    if not report.ok:
        raise UserError(f"the preprocessed speaker {speaker} did not validate: {report.problems[0]}")
    summary = report.summary
    what = "ran " + ", ".join(result.ran) if result.ran else "already preprocessed"
    console.say(f"      {summary.get('frames', '')} frames, {summary.get('split', '')} ({what})")


def generate_all(
    methods: Sequence[Method], speaker: Path, runs: Path, out: Path, new_audio: Sequence[Path], progress: bool
) -> tuple[dict[str, Path], list[tuple[str, str, Path]]]:
    """Held-out videos {label: mp4} and the new-audio videos [(audio name, label, mp4)]."""
    from talkzoo.pipelines.demo_media import write_heldout_audio

    heldout = out / "heldout.wav"
    if not newer(heldout, [speaker_stamp(speaker)]):
        write_heldout_audio(speaker, heldout)
    videos = {}
    for method in methods:
        target = out / f"{method.name}.mp4"
        generate_video(method, speaker, heldout, target, runs, progress)
        videos[label(method.name)] = target
    extra = []
    for audio in new_audio:
        for method in methods:
            target = out / audio.stem / f"{method.name}.mp4"
            generate_video(method, speaker, audio, target, runs, progress)
            extra.append((audio.name, label(method.name), target))
    return videos, extra


def evaluate_all(
    videos: dict[str, Path], speaker: Path, runs: Path, out: Path, stages: Sequence[Stage]
) -> dict[str, Any]:
    """Scores of every held-out video and of the still-image baselines (ground truth measured once; the videos
    scored side by side: avatar_scores), and MODA's motion when its motion stage is trained."""
    from talkzoo.datamodules.speaker import Speaker
    from talkzoo.pipelines.demo_media import baseline_frames, write_still_video

    stamp = speaker_stamp(speaker)
    spk = Speaker(speaker)
    count, fps = len(spk.split_indices("val")), spk.meta.fps
    cache = out / "evaluation"
    jobs = {name: (path, cache / path.stem) for name, path in videos.items()}
    stills = None
    for name, slug in BASELINES:
        target = out / "baselines" / f"{slug}.mp4"
        if not newer(target, [stamp]):
            stills = stills or baseline_frames(speaker)
            write_still_video(target, stills[name], count, fps, out / "heldout.wav")
        jobs[name] = (target, cache / slug)
    scored = score_videos(jobs, speaker, stamp)
    results = {name: scored[name] for name in videos}
    baselines = {name: scored[name] for name, _ in BASELINES}
    motion = None
    moda_stage = next((s for s in stages if s.name == "moda"), None)
    if moda_stage is not None and moda_stage.checkpoint(runs).is_file():
        motion = evaluate_motion(moda_stage.checkpoint(runs), speaker)
    return {"videos": results, "baselines": baselines, "motion": motion}


def write_outputs(
    out: Path,
    video: Path,
    speaker: Path,
    plan: Budget,
    methods: Sequence[Method],
    stages: Sequence[Stage],
    shares: dict[str, StageBudget],
    videos: dict[str, Path],
    extra: list[tuple[str, str, Path]],
    scores: dict[str, Any],
    console: Console,
) -> dict[str, Any]:
    """side_by_side.mp4, poster.png, frame_grid.png, mouth_opening.png, sync.png, metrics.json, report.html."""
    from talkzoo.datamodules.speaker import Speaker
    from talkzoo.pipelines.demo_media import (
        frame_grid,
        mouth_opening_plot,
        sync_plot,
        write_side_by_side,
    )
    from talkzoo.pipelines.report import ReportData, write_report

    spk = Speaker(speaker)
    frames = spk.split_indices("val")
    fps = spk.meta.fps
    side = write_side_by_side(out / "side_by_side.mp4", videos, speaker, frames, out / "heldout.wav",
                              max(spk.meta.width, TILE))  # fmt: skip
    picks = np.linspace(0, len(frames) - 1, 4).round().astype(int)[1:]
    frame_grid(side, [int(i) for i in picks], out / "frame_grid.png")
    frame_grid(side, [0], out / "poster.png")
    results = scores["videos"]
    first = next(iter(results.values()))["series"]
    mouth = {"ground truth": first["mouth_gt"], **{name: r["series"]["mouth_pred"] for name, r in results.items()}}
    mouth = {name: values for name, values in mouth.items() if values is not None}
    mouth_opening_plot(mouth, first["energy"], fps, out / "mouth_opening.png")
    curves = {name: (r["series"]["sync_lags"], r["series"]["sync_corr"]) for name, r in results.items()
              if r["series"]["sync_lags"] is not None}  # fmt: skip
    truth_curve = _truth_sync_curve(first)
    if truth_curve is not None:
        curves = {"ground truth": truth_curve, **curves}
    sync_plot(curves, SYNC_LEAD_FRAMES, out / "sync.png")

    strip = {name: {k: v for k, v in r.items() if k != "series"} for name, r in results.items()}
    baselines = {name: {k: v for k, v in r.items() if k != "series"} for name, r in scores["baselines"].items()}
    seconds = {**console.seconds, "total": console.elapsed}
    metrics: dict[str, Any] = {
        "video": str(video),
        "speaker": str(speaker),
        "budget": {
            "name": plan.name,
            "path": str(plan.path),
            "size": plan.size,
            "steps": {s.name: shares[s.name].steps for s in stages},
        },  # fmt: skip
        "held_out": {"frames": len(frames), "seconds": len(frames) / fps, "first_frame": int(frames[0])},
        "methods": [m.name for m in methods],
        "motion": scores["motion"],
        "videos": strip,
        "baselines": baselines,
        "new_audio": [{"audio": a, "method": m, "video": str(p)} for a, m, p in extra],
        "seconds": seconds,
    }
    (out / "metrics.json").write_text(json.dumps(to_json(metrics), indent=2))
    facts = [
        ("video", f"{video.name} → speaker {spk.meta.width}×{spk.meta.height}, {spk.meta.num_frames / fps:.1f} s "
                  f"at {fps:g} fps; trained on {len(spk.split_indices('train')) / fps:.1f} s, "
                  f"held out the last {len(frames) / fps:.1f} s"),
        ("methods", ", ".join(f"{label(m.name)} ({m.paper})" if m.paper else label(m.name) for m in methods)),
        ("budget", f"{plan.name} ({plan.path.name}): " + ", ".join(
            f"{s.name} {shares[s.name].steps or 'recipe'} steps" for s in stages)),
        ("time", f"{clock(console.elapsed)} on this machine"),
    ]  # fmt: skip
    commands = [f"talkzoo preprocess {video} {speaker} --size {plan.size}"]
    commands += [fit_command(s, shares[s.name], speaker, out / "runs", plan.size) for s in stages]
    commands += [f"talkzoo generate --method {m.name} --speaker {speaker} --audio {out / 'heldout.wav'} "
                 f"--out {out / (m.name + '.mp4')} --run-dir {out / 'runs'}" for m in methods]  # fmt: skip
    commands += [f"talkzoo evaluate {out / (m.name + '.mp4')} {speaker}" for m in methods]
    data = ReportData(
        title=f"talkzoo avatar · {video.name}",
        facts=facts,
        videos=to_json(strip),
        baselines=to_json(baselines),
        motion=scores["motion"],
        media={
            "side_by_side": side,
            "poster": out / "poster.png",
            "frame_grid": out / "frame_grid.png",
            "mouth_opening": out / "mouth_opening.png",
            "sync": out / "sync.png",
        },  # fmt: skip
        new_audio=extra,
        timings={k: v for k, v in seconds.items() if k != "total"},
        commands=commands,
    )
    write_report(out / "report.html", data)
    return metrics


def _truth_sync_curve(series: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """The ground truth's own mouth ↔ speech curve (what a perfect video scores), from the shared series."""
    lags, corr = series.get("sync_lags"), series.get("sync_corr_gt")
    return None if lags is None or corr is None else (np.asarray(lags), np.asarray(corr))


def copy_pictures(out: Path, pictures: Path) -> None:
    import shutil

    pictures.mkdir(parents=True, exist_ok=True)
    for name in ("frame_grid.png", "mouth_opening.png", "sync.png"):
        shutil.copy2(out / name, pictures / name)


def summary_table(metrics: dict[str, Any]) -> str:
    """The printed summary: one row per video and baseline, MODA's motion under it."""

    def num(value: Any, digits: int = 3) -> str:
        return f"{value:.{digits}f}" if isinstance(value, int | float) and np.isfinite(value) else "–"

    lines = ["| held-out video | PSNR | SSIM | lip LMD (px) | mouth-opening ρ | sync offset, conf. |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for group in ("videos", "baselines"):
        for name, r in metrics[group].items():
            sync = r.get("sync")
            sync_text = f"{sync['offset']:+d}, {sync['confidence']:.2f}" if isinstance(sync, dict) else "–"
            name = name if group == "videos" else f"({name})"
            lines.append(f"| {name} | {num(r.get('psnr'), 2)} | {num(r.get('ssim'))} | {num(r.get('lmd'), 2)} | "
                         f"{num(r.get('mouth_corr'))} | {sync_text} |")  # fmt: skip
    motion = metrics.get("motion")
    if motion:
        lines += ["", f"MODA motion: lip LMD {num(motion['lmd'])} px vs {num(motion['lmd_mean_baseline'])} for the "
                      f"mean-motion baseline ({motion['improvement_over_baseline']:+.0%} better), mouth-opening ρ "
                      f"{num(motion['mouth_corr'])}"]  # fmt: skip
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    """`talkzoo avatar VIDEO --out DIR [--methods a,b] [--budget NAME|FILE] [--audio A ...] [--verbose]`."""
    parser = argparse.ArgumentParser(prog="talkzoo avatar", description=__doc__.split("\n\n")[0])
    parser.add_argument("video", help="a video of one person talking (mp4, mov, mkv, webm; any fps, any audio)")
    parser.add_argument("--out", required=True, help="output folder (re-run the same command to resume)")
    parser.add_argument("--methods", default=None,
                        help=f"comma-separated registered methods, of {','.join(METHODS)} "
                             f"(default: {','.join(DEFAULT_METHODS)})")  # fmt: skip
    parser.add_argument("--budget", default="cpu",
                        help=f"{', '.join(budget_names())} or a YAML file (configs/budgets/); default cpu")  # fmt: skip
    parser.add_argument("--audio", action="append", default=[], metavar="AUDIO",
                        help="also generate every method from this audio (repeatable)")  # fmt: skip
    parser.add_argument("--val-seconds", type=float, default=None,
                        help="held-out seconds at the end (default: the budget's, else the last 1/11)")  # fmt: skip
    parser.add_argument("--pictures", default=None, help="also copy the PNGs here")
    parser.add_argument("--verbose", action="store_true", help="show every library's own output")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(list(argv))
    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else None
    run_avatar(args.video, args.out, methods, args.budget, args.audio, args.val_seconds, args.verbose,
               progress=not args.quiet, pictures=args.pictures)  # fmt: skip
    return 0
