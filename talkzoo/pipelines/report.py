"""report.html of an avatar run: one self-contained file (every image and video inlined as a base64 data URI, no
external asset), from the files and numbers `talkzoo avatar` wrote: the side-by-side video, the frame grid, the
mouth-opening and sync plots, the metrics tables with their baselines, the videos made from new audio, what each
metric means, and where the time went."""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

MIME = {".mp4": "video/mp4", ".png": "image/png", ".jpg": "image/jpeg", ".wav": "audio/wav"}

METRIC_HELP = (
    (
        "PSNR (dB) ↑",
        "Pixel fidelity to the held-out ground-truth frames: −10·log10 of the mean squared error, "
        "averaged over frames. +6 dB halves the error.",
    ),
    ("SSIM ↑", "Structural similarity (local means, contrast and correlation; 1 = identical)."),
    ("LPIPS ↓", "Learned perceptual distance (AlexNet features); shown when the AlexNet weights are on disk."),
    (
        "lip LMD (px) ↓",
        "Mean distance between the 40 MediaPipe lip points found in the video and in the ground "
        "truth (each frame tracked with its mirror image, averaged), in pixels of the speaker's frames.",
    ),
    (
        "mouth-opening ρ ↑",
        "Pearson correlation over time between the video's mouth opening (inner-lip gap, "
        "MediaPipe, smoothed over 3 frames) and the ground truth's: does the mouth open and close when the real one "
        "does? 1 = perfectly, "
        "0 = unrelated; a still image has none.",
    ),
    (
        "sync offset, conf.",
        "Weight-free lip-sync score: the lag (frames) at which the mouth opening best "
        "correlates with the loudness of the audio track, and the confidence = that peak correlation minus the "
        "median over lags (as SyncNet's). 0 = in sync; > 0 = the video shows a sound after it is heard. A "
        "confidence under about 0.1 means no clear sync at any lag.",
    ),
    (
        "NIQE ↓",
        "No-reference naturalness of single frames (lower looks more natural); compare with the ground "
        "truth's own value.",
    ),
    ("faces found", "Share of frames in which MediaPipe finds a face: a broken render loses it."),
    (
        "motion: lip LMD ↓",
        "MODA's motion model alone, before any rendering: mean distance (px) between predicted "
        "and tracked lip landmarks on the held-out clip. The mean-motion baseline always predicts the average lips.",
    ),
    ("motion: LMD-v ↓", "The same for frame-to-frame lip velocities (does the motion move like the real one)."),
    ("motion: mouth IoU ↑", "Overlap of the predicted and tracked inner-mouth polygons."),
    (
        "motion: diversity",
        "Spread of several samples of the same audio (MODA samples eye and head motion; the baseline has none).",
    ),
)


@dataclass
class ReportData:
    """Everything the report shows. videos / baselines: label → `evaluate_video` result (JSON-safe; baselines are
    the mean train frame and the reference image as still videos). motion: MODA's motion metrics or None.
    media: name → file (side_by_side, poster, frame_grid, mouth_opening, sync). new_audio: (audio name, method
    label, mp4). timings: stage → seconds. facts: (label, value) lines under the title."""

    title: str
    facts: list[tuple[str, str]]
    videos: dict[str, dict[str, Any]]
    baselines: dict[str, dict[str, Any]]
    motion: dict[str, float] | None
    media: dict[str, Path]
    new_audio: list[tuple[str, str, Path]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)


def data_uri(path: Path) -> str:
    """The file as a data: URI (base64)."""
    mime = MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _num(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "–"
    if not math.isfinite(value):
        return "∞" if value > 0 else "–"
    return f"{value:.{digits}f}"


def _sync(result: dict[str, Any], key: str = "sync") -> str:
    sync = result.get(key)
    if not isinstance(sync, dict):
        return "–"
    return f"{sync['offset']:+d}, {sync['confidence']:.2f}"


def _faces(result: dict[str, Any]) -> str:
    detection = result.get("detection")
    return f"{detection['pred']:.0%}" if isinstance(detection, dict) else "–"


def video_table(videos: dict[str, dict[str, Any]], baselines: dict[str, dict[str, Any]]) -> str:
    """The generated videos, the baselines and the ground truth's own sync / NIQE, as an HTML table."""
    head = ("video", "PSNR ↑", "SSIM ↑", "LPIPS ↓", "lip LMD ↓", "mouth-opening ρ ↑", "sync offset, conf.",
            "NIQE ↓", "faces found")  # fmt: skip
    rows = []
    for kind, group in (("", videos), ("baseline", baselines)):
        for name, r in group.items():
            cells = (name, _num(r.get("psnr"), 2), _num(r.get("ssim")), _num(r.get("lpips")), _num(r.get("lmd"), 2),
                     _num(r.get("mouth_corr")), _sync(r), _num(r.get("niqe_pred"), 2), _faces(r))  # fmt: skip
            rows.append((kind, cells))
    any_result = next(iter(videos.values()), None) or next(iter(baselines.values()), None)
    if any_result is not None:
        truth = ("ground truth", "∞", "1.000", "0", "0", "1.000", _sync(any_result, "sync_gt"),
                 _num(any_result.get("niqe_gt"), 2), f"{any_result['detection']['gt']:.0%}"
                 if isinstance(any_result.get("detection"), dict) else "–")  # fmt: skip
        rows.append(("truth", truth))
    return _table(head, rows)


def motion_table(motion: dict[str, float]) -> str:
    """MODA's motion model against the mean-motion baseline, as an HTML table."""
    head = ("motion (held-out audio)", "lip LMD ↓", "LMD-v ↓", "mouth IoU ↑", "mouth-opening ρ ↑",
            "eye / head diversity")  # fmt: skip
    gain = motion.get("improvement_over_baseline")
    diversity = f"{_num(motion.get('div_eyes'), 4)} / {_num(motion.get('div_head'), 3)}"
    rows = [
        ("", ("MODA", _num(motion.get("lmd")), _num(motion.get("lmd_v")), _num(motion.get("ma")),
              _num(motion.get("mouth_corr")), diversity)),
        ("baseline", ("mean motion", _num(motion.get("lmd_mean_baseline")), "–", "–", "–", "0 / 0")),
    ]  # fmt: skip
    table = _table(head, rows)
    if isinstance(gain, int | float) and math.isfinite(gain):
        table += f"<p class=\"note\">MODA's lip LMD is {gain:.0%} below the mean-motion baseline's.</p>"
    return table


def _table(head: tuple[str, ...], rows: list[tuple[str, tuple[str, ...]]]) -> str:
    out = ["<table><thead><tr>", *(f"<th>{html.escape(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for kind, cells in rows:
        out.append(f'<tr class="{kind}">' if kind else "<tr>")
        out += [f"<td>{html.escape(str(c))}</td>" for c in cells]
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _video(path: Path, poster: Path | None = None, width: int | None = None) -> str:
    poster_attr = f' poster="{data_uri(poster)}"' if poster is not None and poster.is_file() else ""
    style = f' style="width:{width}px"' if width else ""
    return f'<video class="media" controls preload="metadata"{poster_attr}{style} src="{data_uri(path)}"></video>'


def _image(path: Path, alt: str) -> str:
    return f'<img class="media" alt="{html.escape(alt)}" src="{data_uri(path)}">'


def _section(title: str, body: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{body}</section>"


def render_report(data: ReportData) -> str:
    """The report's HTML text."""
    media = data.media
    sections = []
    names = " | ".join(["ground truth", *data.videos])
    sections.append(_section(
        f"Held-out clip: {names}",
        _video(media["side_by_side"], media.get("poster"))
        + '<p class="note">Audio the models never trained on (the end of the video, held out), with the ground '
          "truth on the left. Play it with sound.</p>",
    ))  # fmt: skip
    sections.append(_section("Frames from the held-out clip", _image(media["frame_grid"], "frame grid")))
    sections.append(_section(
        "Does the mouth follow the speech?",
        '<div class="row">' + _image(media["mouth_opening"], "mouth opening") + _image(media["sync"], "sync")
        + "</div><p class=\"note\">Top: mouth opening of each video (MediaPipe) against the ground truth, with the "
          "speech loudness underneath. Bottom: how strongly each video's mouth follows the loudness at each "
          "offset; a peak at 0 is in sync.</p>",
    ))  # fmt: skip
    body = "<h3>Generated videos against the held-out ground truth</h3>" + video_table(data.videos, data.baselines)
    body += ('<p class="note">Baselines (italic) are still images with the same audio: the mean training frame and '
             "the reference image (training frame 0). A method should beat them on every column.</p>")  # fmt: skip
    if data.motion is not None:
        body += "<h3>MODA's motion model (landmarks, before rendering)</h3>" + motion_table(data.motion)
    sections.append(_section("Metrics", body))
    if data.new_audio:
        items = "".join(
            f"<div><h3>{html.escape(method)} · {html.escape(audio)}</h3>{_video(path)}</div>"
            for audio, method, path in data.new_audio
        )
        sections.append(_section("From new audio", f'<div class="row">{items}</div>'))
    help_items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in METRIC_HELP)
    sections.append(_section("What each metric means", f"<dl>{help_items}</dl>"))
    if data.timings or data.commands:
        timing = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:.1f} s</td></tr>" for k, v in data.timings.items())
        body = f'<table class="small"><tbody>{timing}</tbody></table>' if timing else ""
        if data.commands:
            body += "<h3>The same, step by step</h3>" + "".join(
                f'<p class="small"><code>{html.escape(c)}</code></p>' for c in data.commands
            )
        sections.append(_section("Where the time went", body))
    subtitle = "".join(f"<p><b>{html.escape(k)}:</b> {html.escape(v)}</p>" for k, v in data.facts)
    template = Template(resources.files("talkzoo.pipelines").joinpath("report_template.html").read_text("utf-8"))
    return template.substitute(title=html.escape(data.title), subtitle=subtitle, sections="\n".join(sections))


def write_report(path: Path, data: ReportData) -> Path:
    """Write report.html (self-contained) at `path`; returns it."""
    path.write_text(render_report(data), encoding="utf-8")
    return path
