"""`talkzoo avatar` and `talkzoo demo`: budgets, the held-out option, the quiet console, the report, and the whole
pipeline end to end on a real-looking clip (29.97 fps, 44.1 kHz stereo) at a tiny test budget, resumed."""

from __future__ import annotations

import io
import json
import math
import os
import re
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from talkzoo.methods import METHODS, Method, Stage, register
from talkzoo.pipelines.avatar_budget import budget_names, load_budget
from talkzoo.zoo.errors import UserError

TINY_BUDGET = """
preprocess: {size: 64}
threads: 2
lanes: 2          # the stages side by side in two processes (talkzoo.pipelines.avatar_lanes)
stages:
  moda:         {steps: 40, presets: [moda_cpu]}
  faconet:      {steps: 10, presets: [faconet_cpu]}
  renderer:     {steps: 10, presets: [portrait_renderer_cpu]}
  ernerf_head:  {steps: 200, presets: [ernerf_head_cpu]}  # fewer: a face MediaPipe may not find
  ernerf_torso: {steps: 6, presets: [ernerf_torso_cpu]}
"""


# ---- budgets ---------------------------------------------------------------------------------------------------
def test_shipped_budgets_cover_the_default_methods() -> None:
    from talkzoo.pipelines.avatar import chosen_methods, stages_for

    assert {"fast", "cpu", "gpu"} <= set(budget_names())
    for name in ("fast", "cpu", "gpu"):
        budget = load_budget(name)
        stages = stages_for(chosen_methods(None))  # the default methods (moda, ernerf) and what they read
        assert [s.name for s in stages] == ["moda", "faconet", "renderer", "ernerf_head", "ernerf_torso"]
        assert all(budget.stage(s) is not None for s in stages), name
        assert budget.demo is not None and budget.path.name == f"{name}.yaml"
    cpu, fast = load_budget("cpu"), load_budget("fast")
    # fast → cpu continues the same runs: same speaker size and presets, more steps
    assert cpu.size == fast.size
    for name, share in fast.stages.items():
        assert share.presets == cpu.stages[name].presets and share.steps < cpu.stages[name].steps, name
    assert cpu.demo.val_seconds >= 10


BAD_BUDGETS = [  # (budget file, the one-line error it must give)
    ("preprocess: {size: 64}\nstages:\n  mdoa: {steps: 5}\n",
     r"`stages.mdoa` names no registered stage; the stages are moda, faconet"),
    ("preprocess: {size: 64}\nstages:\n  moda: {steps: 0}\n", "stages.moda.steps must be a positive integer"),
    ("preprocess: {size: 64}\nstages:\n  moda: {step: 5}\n", "unknown key"),
    ("preprocess: {size: 64}\nlanes: 0\nstages:\n  moda: {steps: 5}\n", "lanes must be a positive integer"),
    ("preprocess: {size: 64}\nshare_threads: 1\nstages:\n  moda: {steps: 5}\n",
     "`share_threads` must be true or false, got 1"),
    ("preprocess: {size: 64}\nstages: {moda: {steps: 5}}\ndemo: {seconds: 6, size: 64, truth_images: 2}",
     "`demo.truth_images` must be true or false, got 2"),
]  # fmt: skip


def test_bad_budgets_are_one_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    for text, error in BAD_BUDGETS:
        path.write_text(text)
        with pytest.raises(UserError, match=error):
            load_budget(path)
    with pytest.raises(UserError, match="--budget nope: no such budget file or name; use one of"):
        load_budget("nope")


def test_a_method_registered_later_joins_by_budget_lines_only(tmp_path: Path) -> None:
    from talkzoo.pipelines.avatar import chosen_methods, stages_for

    method = register(Method(name="later", summary="registered after the budgets were written",
                             stages=(Stage("later_stage", "moda", "moda_cpu", (), "s"),), avatar="x:Y"))  # fmt: skip
    try:
        budget = load_budget("cpu")
        with pytest.raises(UserError, match=r"has no entry for stage 'later_stage' \(recipe moda\); add"):
            [budget.stage(s) for s in stages_for(chosen_methods(["later"]))]
        path = tmp_path / "with_later.yaml"
        text = budget.path.read_text().replace("stages:\n", "stages:\n  later_stage: {steps: 7, presets: [moda_cpu]}\n")
        path.write_text(text)
        joined = load_budget(path)
        assert [joined.stage(s).steps for s in stages_for(chosen_methods(["later"]))] == [7]
    finally:
        del METHODS[method.name]


def test_val_seconds_holds_out_the_end_of_the_video() -> None:
    from talkzoo.datamodules.preprocess import PreprocessConfig
    from talkzoo.datamodules.preprocess.errors import PreprocessError
    from talkzoo.datamodules.preprocess.pipeline import val_start

    assert val_start(1500, PreprocessConfig(size=64), Path("v.mp4")) == -1  # the format's default: last 1/11
    assert val_start(1500, PreprocessConfig(size=64, val_seconds=10), Path("v.mp4")) == 1250
    with pytest.raises(PreprocessError, match="holding out 59 s of a 60.0 s video leaves 1.0 s to train on"):
        val_start(1500, PreprocessConfig(size=64, val_seconds=59), Path("v.mp4"))


# ---- console and report ------------------------------------------------------------------------------------------
def test_quiet_output_sends_native_chatter_to_the_log(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    import warnings

    from talkzoo.pipelines.console import quiet_output

    with quiet_output(tmp_path / "log.txt") as log:
        os.write(2, b"W0000 inference_feedback_manager.cc:114] Feedback manager requires ...\n")  # as MediaPipe
        warnings.warn("SymbolDatabase.GetPrototype() is deprecated", UserWarning, stacklevel=1)
        print("progress for the user", file=sys.stderr)
    out = capfd.readouterr()
    assert log == tmp_path / "log.txt"
    assert "inference_feedback_manager" not in out.err and "GetPrototype" not in out.err
    assert "progress for the user" in out.err
    text = (tmp_path / "log.txt").read_text()
    assert "inference_feedback_manager" in text and "GetPrototype" in text
    with quiet_output(tmp_path / "log2.txt", verbose=True):
        os.write(2, b"shown when verbose\n")
    assert "shown when verbose" in capfd.readouterr().err


def test_report_is_one_file_with_the_evaluated_numbers_baselines_and_their_meaning(tmp_path: Path) -> None:
    from talkzoo.pipelines.report import METRIC_HELP, ReportData, render_report

    media = {}
    for name in ("side_by_side.mp4", "poster.png", "frame_grid.png", "mouth_opening.png", "sync.png"):
        media[name.split(".")[0]] = tmp_path / name
        media[name.split(".")[0]].write_bytes(name.encode())  # any bytes: the report only inlines them

    def result(psnr: float, corr: float, offset: int, conf: float) -> dict:
        return {"psnr": psnr, "ssim": 0.8, "lpips": "unavailable: no weights", "lmd": 1.5, "mouth_corr": corr,
                "sync": {"offset": offset, "confidence": conf}, "sync_gt": {"offset": 0, "confidence": 0.61},
                "niqe_pred": 5.0, "niqe_gt": 4.5, "detection": {"pred": 1.0, "gt": 1.0, "both_frames": 9}}  # fmt: skip

    videos = {"MODA": result(24.51234, 0.73456, 1, 0.42), "ER-NeRF": result(25.0, 0.8, 0, 0.5)}
    baselines = {"mean train frame": result(25.2, 0.01, 7, 0.05)}
    motion = {"lmd": 0.27, "lmd_mean_baseline": 0.38, "improvement_over_baseline": 1 - 0.27 / 0.38, "lmd_v": 0.2,
              "ma": 0.8, "mouth_corr": 0.9, "div_eyes": 0.4, "div_head": 0.3}  # fmt: skip
    page = render_report(ReportData("t", [("video", "v.mp4")], videos, baselines, motion, media))
    assert _report_cells(page, "MODA")[1:7] == ["24.51", "0.800", "–", "1.50", "0.735", "+1, 0.42"]
    assert _report_cells(page, "mean train frame")[5:7] == ["0.010", "+7, 0.05"]
    assert '<tr class="baseline"><td>mean train frame' in page and '<tr class="baseline"><td>mean motion' in page
    assert _report_cells(page, "ground truth")[6] == "+0, 0.61"
    assert "29% below the mean-motion baseline" in page
    assert all(html_escape(name) in page for name, _ in METRIC_HELP)
    sources = re.findall(r'(?:src|poster|href)="([^"]*)"', page)
    assert len(sources) == 5 and all(s.startswith("data:") for s in sources)  # video, poster, 3 pictures


def html_escape(text: str) -> str:
    import html

    return html.escape(text)


# ---- end to end ----------------------------------------------------------------------------------------------------
def _real_looking(src: Path, dst: Path) -> Path:
    """src re-encoded as a phone would: 30000/1001 fps (each output frame the source frame nearest in time),
    44.1 kHz stereo AAC (the right channel quieter)."""
    import av

    from talkzoo.datamodules.media import iter_frames, read_audio

    frames = list(iter_frames(src))
    wave = read_audio(src, 44100)
    rate = Fraction(30000, 1001)
    count = int(len(frames) / 25 * rate)
    with av.open(str(dst), "w") as container:
        video = container.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        audio = container.add_stream("aac", rate=44100, layout="stereo")
        for i in range(count):
            image = frames[min(len(frames) - 1, round(i / float(rate) * 25))]
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        stereo = np.stack([wave, 0.8 * wave]).astype(np.float32)
        for start in range(0, stereo.shape[1], 1024):
            chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(stereo[:, start : start + 1024]), format="fltp",
                                               layout="stereo")  # fmt: skip
            chunk.sample_rate, chunk.pts = 44100, start
            container.mux(audio.encode(chunk))
        container.mux(audio.encode(None))
    return dst


def _report_cells(report: str, name: str) -> list[str]:
    """The cells of the metrics-table row whose first cell is `name` (PSNR, SSIM, LPIPS, lip LMD, ρ, sync, …)."""
    row = re.search(rf"<tr(?: class=\"\w+\")?><td>{re.escape(name)}</td>(.*?)</tr>", report)
    assert row is not None, name
    return [name, *re.findall(r"<td>(.*?)</td>", row.group(1))]


def _finite_numbers(result: dict) -> None:
    for key in ("psnr", "ssim", "lmd", "mouth_corr"):
        assert isinstance(result[key], float) and math.isfinite(result[key]), (key, result[key])
    assert isinstance(result["sync_gt"], dict) and math.isfinite(result["sync_gt"]["confidence"])
    # a few dozen steps may leave a mouth that does not move: then the score says so rather than inventing a number
    sync = result["sync"]
    assert (isinstance(sync, dict) and math.isfinite(sync["confidence"])) or sync.startswith(
        "unavailable: the mouth does not move"
    ), sync


@pytest.mark.slow
def test_avatar_on_a_real_looking_clip_end_to_end_then_resumes_with_more_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from talkzoo.datamodules.media import probe_video
    from talkzoo.datamodules.synthetic import synthesize
    from talkzoo.pipelines.avatar import run_avatar
    from talkzoo.pipelines.evaluate import evaluate_video

    synthesize(tmp_path / "synth", seconds=10.0, size=128, seed=3, progress=False)
    clip = _real_looking(tmp_path / "synth" / "raw.mp4", tmp_path / "phone.mp4")
    info = probe_video(clip)
    assert abs(info.fps - 29.97) < 0.01 and info.audio_rate == 44100
    new_audio = tmp_path / "hello.wav"
    from scipy.io import wavfile

    wavfile.write(new_audio, 22050, (np.sin(np.arange(22050) / 9.0) * 8000).astype(np.int16))  # 1 s, 22 kHz
    budget = tmp_path / "tiny.yaml"
    budget.write_text(TINY_BUDGET)
    out = tmp_path / "avatar"

    metrics = run_avatar(clip, out, ["moda", "ernerf"], budget, [new_audio], val_seconds=3, progress=False)
    assert metrics["held_out"]["frames"] == 75 and metrics["budget"]["steps"]["moda"] == 40
    for name in ("MODA", "ER-NeRF"):
        _finite_numbers(metrics["videos"][name])
    assert math.isfinite(metrics["baselines"]["mean train frame"]["psnr"])
    assert math.isfinite(metrics["motion"]["lmd"]) and math.isfinite(metrics["motion"]["lmd_mean_baseline"])
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["videos"]["MODA"]["mouth_corr"] == pytest.approx(metrics["videos"]["MODA"]["mouth_corr"])
    for name in ("moda.mp4", "ernerf.mp4", "side_by_side.mp4", "hello/moda.mp4", "hello/ernerf.mp4"):
        assert probe_video(out / name).has_audio, name
    assert probe_video(out / "side_by_side.mp4").width == 3 * 192  # ground truth | MODA | ER-NeRF, 192 px tiles
    assert abs(probe_video(out / "hello" / "moda.mp4").num_frames - 25) <= 1  # 1 s of new audio at 25 fps

    report = (out / "report.html").read_text()
    # one number per concept: `talkzoo evaluate` run on its own gives the mouth-opening ρ the report and
    # metrics.json show (the report's plots come from the same evaluate_video call)
    alone = evaluate_video(out / "moda.mp4", out / "speaker", split="val", progress=False)
    assert alone["mouth_corr"] == pytest.approx(saved["videos"]["MODA"]["mouth_corr"], abs=1e-9)
    assert alone["sync"] == saved["videos"]["MODA"]["sync"]
    assert alone["psnr"] == pytest.approx(saved["videos"]["MODA"]["psnr"])
    assert _report_cells(report, "MODA")[5] == f"{alone['mouth_corr']:.3f}"
    sources = re.findall(r'(?:src|poster|href)="([^"]*)"', report)
    assert sources and all(s.startswith("data:") for s in sources)  # self-contained
    assert report.count("data:video/mp4;base64,") == 1 + 2  # side by side + the new audio's two videos
    assert "What each metric means" in report and "mean train frame" in report and "mean motion" in report
    for picture in ("frame_grid.png", "mouth_opening.png", "sync.png"):
        assert (out / picture).stat().st_size > 1000

    capsys.readouterr()
    ernerf_video = (out / "ernerf.mp4").stat().st_mtime
    budget.write_text(TINY_BUDGET.replace("{steps: 10, presets: [faconet", "{steps: 14, presets: [faconet"))
    again = run_avatar(clip, out, ["moda", "ernerf"], budget, [new_audio], val_seconds=3, progress=False)
    printed = capsys.readouterr().out
    stage_lines = re.findall(r"^\[(\d+)/(\d+)\] ", printed, flags=re.M)
    assert [int(i) for i, _ in stage_lines] == list(range(1, 10)) and {t for _, t in stage_lines} == {"9"}
    assert printed.count("done in") == 9 and printed.count("(elapsed ") == 9  # one line per stage, with times
    assert "resumed at step 10, now 14" in printed and printed.count("reusing") == 4  # the 4 other stages
    assert again["budget"]["steps"]["faconet"] == 14
    assert again["videos"]["MODA"]["psnr"] != metrics["videos"]["MODA"]["psnr"]  # MODA's video made again
    assert (out / "ernerf.mp4").stat().st_mtime == ernerf_video  # ER-NeRF's stages did not change: kept
    assert "inference_feedback_manager" not in printed and "Epoch" not in printed


def test_demo_is_avatar_on_the_synthetic_video(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`talkzoo demo` = synthesise the budget's video, then the avatar pipeline on it with the budget's held-out
    length; nothing else."""
    import talkzoo.pipelines.demo as demo

    budget = tmp_path / "b.yaml"
    budget.write_text(TINY_BUDGET + "demo: {seconds: 3, size: 64, style: easy, val_seconds: 1}\n")
    calls = []
    monkeypatch.setattr(demo, "run_avatar", lambda *a, **k: calls.append((a, k)) or {"seconds": {}})
    demo.run_demo(tmp_path / "out", budget=budget, progress=False)
    ((args, kwargs),) = calls
    assert args[0] == tmp_path / "out" / "synth" / "raw.mp4" and args[1] == tmp_path / "out"
    assert kwargs["val_seconds"] == 1 and args[3].path == budget
    mtime = args[0].stat().st_mtime
    demo.run_demo(tmp_path / "out", budget=budget, progress=False)  # the video is reused
    assert args[0].stat().st_mtime == mtime and len(calls) == 2


def test_stages_side_by_side_raise_a_failing_stages_error_and_keep_order(tmp_path: Path) -> None:
    """lanes: 2 → each stage in a spawned process; a stage that fails (a bad option: LightningCLI's one-line
    UserError) stops the scheduling, the stage that waits for it (ER-NeRF's torso) never starts, and the error
    reaches the caller as the same one line."""
    from talkzoo.methods import all_stages
    from talkzoo.pipelines.avatar_budget import StageBudget
    from talkzoo.pipelines.avatar_lanes import train_stages
    from talkzoo.pipelines.console import Console

    stages = [all_stages()[name] for name in ("ernerf_head", "ernerf_torso", "faconet")]
    bad = StageBudget(steps=2, presets=("ernerf_head_cpu",), overrides=("--model.init_args.no_such_knob=1",))
    also_bad = StageBudget(steps=2, presets=("faconet_cpu",), overrides=("--trainer.no_such_knob=1",))
    shares = {"ernerf_head": bad, "ernerf_torso": StageBudget(2, ("ernerf_torso_cpu",)), "faconet": also_bad}
    out = io.StringIO()
    with pytest.raises(UserError, match="no_such_knob"):
        train_stages(stages, shares, tmp_path / "speaker", tmp_path / "runs", 32, Console(5, False, out), False, 2, 2)
    printed = out.getvalue()
    assert "train ernerf_head" in printed and "train faconet" in printed and "[lane 2/2]" in printed
    assert "train ernerf_torso" not in printed  # it reads the head's checkpoint: never started
    assert not (tmp_path / "runs" / "ernerf_torso").exists()


def test_a_stage_left_alone_takes_the_idle_threads_only_when_the_budget_shares_them() -> None:
    """share_threads: true → threads // busy lanes, re-read while a stage trains; false → threads // lanes from start
    to end (the demo's `cpu` budget: a stage's floating-point sums, hence its weights, must not depend on when the
    other lane finished)."""
    import torch

    from talkzoo.pipelines import avatar_lanes
    from talkzoo.pipelines.avatar_lanes import Lane, lane_threads

    assert load_budget("cpu").share_threads is False and load_budget("fast").share_threads is True
    assert (lane_threads(2, 2, None), lane_threads(2, 1, None), lane_threads(2, 0, None)) == (1, 2, 2)
    assert lane_threads(2, 1, 1) == 1 and lane_threads(4, 1, 2) == 2

    class Busy:
        value = 1  # the other lane has finished

    class Trainer:
        max_steps, global_step, global_rank, default_root_dir = 10, 3, 0, "runs/moda"

    before = torch.get_num_threads()
    saved = dict(avatar_lanes._LANE)
    try:
        torch.set_num_threads(1)
        avatar_lanes._LANE.update(queue=None, busy=Busy(), threads=2, fixed=1, progress=False)
        Lane()._tick(Trainer(), force=True)
        assert torch.get_num_threads() == 1  # fixed: stays
        avatar_lanes._LANE["fixed"] = None
        Lane()._tick(Trainer(), force=True)
        assert torch.get_num_threads() == 2  # shared: takes the idle lane's thread
    finally:
        avatar_lanes._LANE.clear()
        avatar_lanes._LANE.update(saved)
        torch.set_num_threads(before)


def test_lanes_start_the_longest_chain_first() -> None:
    """The lanes' order: of the ready stages, the longest estimated chain (steps × step_seconds plus the stages
    waiting for it) first — the demo's long renderer before MODA's 300 steps; a stage waits for the stages it reads;
    a stage on its recipe's own schedule (steps None) counts as longest; equal chains keep the registry's order."""
    from talkzoo.methods import all_stages
    from talkzoo.pipelines.avatar_budget import StageBudget
    from talkzoo.pipelines.avatar_lanes import chain_seconds, longest_chain_first

    def order(names: list[str], shares: dict[str, StageBudget]) -> list[str]:
        pending, done, started = [all_stages()[n] for n in names], set(all_stages()) - set(names), []
        while pending:
            stage = longest_chain_first(pending, done, shares)
            assert stage is not None
            started.append(stage.name)
            pending.remove(stage)
            done.add(stage.name)
        return started

    cpu = load_budget("cpu").stages
    demo = ["moda", "faconet", "renderer", "ernerf_head", "ernerf_torso"]
    assert order(demo, cpu) == ["renderer", "ernerf_head", "faconet", "moda", "ernerf_torso"]
    head, torso = all_stages()["ernerf_head"], all_stages()["ernerf_torso"]
    assert chain_seconds(head, [head, torso], cpu) == pytest.approx(
        cpu["ernerf_head"].steps * head.step_seconds + cpu["ernerf_torso"].steps * torso.step_seconds
    )
    assert longest_chain_first([torso], {"moda"}, cpu) is None  # its head is not trained yet
    # a long stage waiting for another lengthens that one's chain: the head (a long torso after it) goes first
    long_torso = {**cpu, "ernerf_torso": StageBudget(100_000, ("ernerf_torso_cpu",))}
    assert order(["faconet", "ernerf_head", "ernerf_torso"], long_torso) == ["ernerf_head", "ernerf_torso", "faconet"]
    unbounded = {**cpu, "faconet": StageBudget(None, ("faconet_cpu",))}
    assert order(["moda", "faconet", "renderer"], unbounded)[0] == "faconet"
    both_unbounded = {**unbounded, "moda": StageBudget(None, ("moda_cpu",))}
    assert order(["faconet", "moda"], both_unbounded) == ["faconet", "moda"]  # a tie: the pending list's order


def test_a_stage_whose_input_stage_trained_on_trains_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ER-NeRF's torso composites the head it was trained with: when a raised budget trains the head on, the torso's
    finished run is set aside (not deleted) and trained again, and a torso trained against today's head is kept."""
    import torch

    import talkzoo.pipelines.avatar as avatar
    from talkzoo.methods import all_stages
    from talkzoo.pipelines.avatar_budget import StageBudget
    from talkzoo.pipelines.avatar_lanes import train_stages
    from talkzoo.pipelines.console import Console

    head, torso = all_stages()["ernerf_head"], all_stages()["ernerf_torso"]
    runs = tmp_path / "runs"

    def checkpoint(stage: Stage, step: int) -> None:
        stage.checkpoint(runs).parent.mkdir(parents=True, exist_ok=True)
        torch.save({"global_step": step}, stage.checkpoint(runs))

    trained: list[str] = []

    def fake_fit(stage: Stage, share: StageBudget, *args: object, **kwargs: object) -> str:
        trained.append(stage.name)
        checkpoint(stage, share.steps)
        avatar.record_requirements(stage, runs)
        return "trained"

    monkeypatch.setattr(avatar, "fit_stage", fake_fit)
    shares = {"ernerf_head": StageBudget(6, ()), "ernerf_torso": StageBudget(2, ())}
    console = Console(2, False, io.StringIO())
    train_stages([head, torso], shares, tmp_path / "speaker", runs, 32, console, False)
    assert trained == ["ernerf_head", "ernerf_torso"]
    assert json.loads((torso.run_dir(runs) / avatar.TRAINED_AGAINST).read_text()) == {"ernerf_head": 6}

    trained.clear()  # nothing changed: both reused
    train_stages([head, torso], shares, tmp_path / "speaker", runs, 32, console, False)
    assert trained == [] and avatar.changed_requirements(torso, runs, []) == []

    out = io.StringIO()  # the head's budget raised: it trains on, so the finished torso is stale
    shares["ernerf_head"] = StageBudget(9, ())
    (torso.run_dir(runs) / "marker").write_text("the old run")
    train_stages([head, torso], shares, tmp_path / "speaker", runs, 32, Console(2, False, out), False)
    assert trained == ["ernerf_head", "ernerf_torso"]
    assert "ernerf_head trained on since ernerf_torso was trained" in out.getvalue()
    assert (runs / "ernerf_torso.stale" / "marker").read_text() == "the old run"
    assert json.loads((torso.run_dir(runs) / avatar.TRAINED_AGAINST).read_text()) == {"ernerf_head": 9}

    checkpoint(head, 12)  # trained on outside this pipeline (e.g. `talkzoo fit ... --ckpt_path last`)
    assert avatar.changed_requirements(torso, runs, []) == ["ernerf_head"]
    (torso.run_dir(runs) / avatar.TRAINED_AGAINST).unlink()  # a run from before the record: counts as fresh
    assert avatar.changed_requirements(torso, runs, []) == []
    assert avatar.changed_requirements(torso, runs, ["ernerf_head"]) == ["ernerf_head"]
