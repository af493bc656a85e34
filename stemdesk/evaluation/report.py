"""The evaluation report: markdown tables, a box plot beside them and the numbers as JSON.

For ``OUT.md`` the plot is ``OUT.png`` and the numbers ``OUT.json``; all three
are written atomically, like every file stemdesk writes.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from stemdesk.audio import atomic_path
from stemdesk.separators import SeparatorCard

from .scoring import StemScore

# Left to right from doing nothing to the best a mask can do, the model between.
_PLOT_ORDER = ("identity", "model", "oracle")
_COLOURS = {"identity": "#9e9e9e", "model": "#1f77b4", "oracle": "#2ca02c"}


@dataclass(frozen=True)
class RunInfo:
    """How the scores were obtained, for the report's header."""

    command: str
    card: SeparatorCard
    data: Path
    split: str | None
    songs: list[str]
    seconds: float | None
    device: str
    elapsed_s: float


def write_report(path: Path, scores: list[StemScore], medians: dict, info: RunInfo) -> list[Path]:
    """Write ``path`` (markdown), its ``.png`` plot and ``.json`` numbers; return the three paths."""
    plot_path, json_path = path.with_suffix(".png"), path.with_suffix(".json")
    write_plot(plot_path, scores, f"{info.card.id} {info.card.version} on {info.data.name}")
    with atomic_path(json_path) as temp:
        temp.write_text(json.dumps(_as_json(scores, medians, info), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    with atomic_path(path) as temp:
        temp.write_text(markdown(scores, medians, info, plot_path.name), encoding="utf-8")
    return [path, plot_path, json_path]


def markdown(scores: list[StemScore], medians: dict, info: RunInfo, plot_name: str) -> str:
    """The report's text: header, medians, one table per stem, songs left out."""
    card = info.card
    scored = list(dict.fromkeys(score.track for score in scores))
    excerpt = f"the middle {info.seconds:g} s of each" if info.seconds else "whole songs"
    split = f", split `{info.split}`" if info.split else ""
    lines = [
        f"# Evaluation of {card.id} {card.version}",
        "",
        f"- Model: `{card.id}` {card.version} ({card.architecture}), sha256 `{card.sha256[:12]}…`, "
        f"stems {', '.join(card.stems)}; separated on {info.device}.",
        f"- Data: `{info.data}`{split}: {len(scored)} of {len(info.songs)} songs scored, {excerpt}; "
        f"took {info.elapsed_s:.0f} s.",
        f"- Command: `{info.command}`",
        "",
        "Measures, in dB (higher is better):",
        f"- **SDR / SIR / SAR**: BSS Eval v4 (museval {_version('museval')} `bss_eval`: 512-tap time-invariant "
        "distortion filters, 1 s windows hopping 1 s, windows with a silent source left out). A song's "
        "value is the median over its windows, the summary the median over songs, as in SiSEC 2018.",
        "- **global SDR**: the MDX challenges' 10·log10(Σ s² / Σ (s − ŝ)²) over the whole excerpt.",
        "- **identity**: the mixture itself as the estimate (what doing nothing scores). "
        f"**oracle**: the ratio mask |S_i|^{card.mask_power:g} / Σ_j |S_j|^{card.mask_power:g} from the true "
        f"stems on the model's STFT (n_fft {card.n_fft}, hop {card.hop_length}, all bins), applied to the "
        "mixture: the best a mask-estimating model with this STFT can do. **gap**: oracle − model.",
        "- A model stem named like a class is compared with that class's stem, one named like a substem "
        "(guitar-lead) with that substem's own file; the other stem of a single-target model with the "
        "mixture minus the target. Stems silent in a song, or that it has no file of, are not scored.",
        "",
        f"![SDR per song: identity, model and oracle]({plot_name})",
        "",
        "## Medians over songs",
        "",
        "| stem | SDR model | SDR identity | SDR oracle | gap to oracle | global SDR model "
        "| global SDR identity | global SDR oracle | global gap |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for stem, by_method in medians.items():
        lines.append(f"| {stem} | " + " | ".join(_fmt(value) for value in _summary_row(by_method)) + " |")
    for stem in medians:
        lines += ["", f"## {stem}", "", *_stem_table(scores, stem, medians[stem])]
    left_out = [song for song in info.songs if song not in scored]
    if left_out:
        lines += ["", "Songs with no stem to compare (target silent, not separated in the dataset, or a substem "
                  "the song has no file of): "
                  + ", ".join(left_out) + "."]
    return "\n".join(lines) + "\n"


def _summary_row(by_method: dict) -> list[float]:
    model, identity, oracle = (by_method[method] for method in ("model", "identity", "oracle"))
    return [
        model["sdr"], identity["sdr"], oracle["sdr"], oracle["sdr"] - model["sdr"],
        model["global_sdr"], identity["global_sdr"], oracle["global_sdr"],
        oracle["global_sdr"] - model["global_sdr"],
    ]


def _stem_table(scores: list[StemScore], stem: str, median: dict) -> list[str]:
    lines = [
        "| song | SDR model | SIR model | SAR model | SDR identity | SDR oracle | gap to oracle "
        "| global SDR model | global SDR identity | global SDR oracle |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    by_song: dict[str, dict[str, StemScore]] = {}
    for score in scores:
        if score.stem == stem:
            by_song.setdefault(score.track, {})[score.method] = score
    rows = [(song, {method: asdict(score) for method, score in methods.items()})
            for song, methods in by_song.items()]
    rows.append(("**median**", median))
    for song, methods in rows:
        model, identity, oracle = (methods[method] for method in ("model", "identity", "oracle"))
        values = [
            model["sdr"], model["sir"], model["sar"], identity["sdr"], oracle["sdr"],
            oracle["sdr"] - model["sdr"], model["global_sdr"], identity["global_sdr"], oracle["global_sdr"],
        ]
        lines.append(f"| {song} | " + " | ".join(_fmt(value) for value in values) + " |")
    return lines


def write_plot(path: Path, scores: list[StemScore], title: str = "") -> None:
    """Box plots of BSS Eval SDR (top row) and global SDR (bottom row) per stem, songs as dots."""
    # A bare Figure renders PNG with Agg: no pyplot state, and no GUI
    # backend chosen behind our back (stemdesk's GUI has Qt installed).
    from matplotlib.figure import Figure

    stems = list(dict.fromkeys(score.stem for score in scores))
    figure = Figure(figsize=(3.2 * max(len(stems), 1) + 0.8, 6.4), layout="constrained")
    axes = figure.subplots(2, max(len(stems), 1), squeeze=False)
    for column, stem in enumerate(stems):
        for row, (metric, label) in enumerate((("sdr", "BSS Eval SDR (dB)"), ("global_sdr", "global SDR (dB)"))):
            _box_panel(axes[row][column], scores, stem, metric)
            axes[row][column].set_ylabel(label if column == 0 else "")
        axes[0][column].set_title(stem)
    figure.suptitle(title)
    with atomic_path(path) as temp:
        figure.savefig(temp, format="png", dpi=110)


def _box_panel(ax, scores: list[StemScore], stem: str, metric: str) -> None:
    columns = []
    for method in _PLOT_ORDER:
        values = [getattr(s, metric) for s in scores if s.stem == stem and s.method == method]
        columns.append([value for value in values if math.isfinite(value)])
    positions = range(1, len(_PLOT_ORDER) + 1)
    boxes = ax.boxplot(columns, positions=positions, widths=0.55, patch_artist=True, showfliers=False,
                       medianprops={"color": "black"})
    for patch, method in zip(boxes["boxes"], _PLOT_ORDER):
        patch.set(facecolor=_COLOURS[method], alpha=0.35)
    for position, method, values in zip(positions, _PLOT_ORDER, columns):
        # Spread the dots sideways by their rank so equal values stay visible.
        offsets = [0.18 * (i / max(len(values) - 1, 1) - 0.5) for i in range(len(values))]
        ax.scatter([position + offset for offset in offsets], values, s=12, color=_COLOURS[method], zorder=3)
    ax.set_xticks(list(positions), _PLOT_ORDER)
    ax.grid(axis="y", alpha=0.3)


def record_in_card(card_path: Path, scores: list[StemScore], medians: dict, info: RunInfo) -> None:
    """Store the medians under ``metrics["evaluation"]`` of the model's card, atomically.

    The card then carries its figures wherever it is copied. Other ``metrics``
    entries are kept; the ONNX file and its digest are untouched.
    """
    card = json.loads(Path(card_path).read_text(encoding="utf-8"))
    scored = len({score.track for score in scores})
    excerpt = f"the middle {info.seconds:g} s of each" if info.seconds else "whole songs"
    card.setdefault("metrics", {})["evaluation"] = _finite_or_none({
        "data": f"{info.data.name}/{info.split or ''}: {scored} of {len(info.songs)} songs scored, {excerpt}",
        "command": info.command,
        "bss_eval": f"museval {_version('museval')} bss_eval v4, 1 s windows; median over windows, then songs",
        "median_db": {
            stem: {method: {metric: round(value, 2) for metric, value in values.items()}
                   for method, values in by_method.items()}
            for stem, by_method in medians.items()
        },
    })
    with atomic_path(card_path) as temp:
        temp.write_text(json.dumps(card, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def _as_json(scores: list[StemScore], medians: dict, info: RunInfo) -> dict:
    return _finite_or_none({
        "command": info.command,
        "model": {"id": info.card.id, "version": info.card.version, "sha256": info.card.sha256},
        "data": str(info.data),
        "split": info.split,
        "seconds": info.seconds,
        "device": info.device,
        "bss_eval": f"museval {_version('museval')} bss_eval v4, 1 s windows",
        "medians": medians,
        "scores": [asdict(score) for score in scores],
    })


def _finite_or_none(value):
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(item) for item in value]
    return value


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:.2f}" if math.isfinite(value) else ("∞" if value > 0 else "−∞")


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "?"
