"""Self-contained HTML report: no scripts, no network — inline CSS and SVG only.

Per file: summary, warnings, a timeline of fused emotion probabilities and sentiment (SVG),
per-modality agreement (which emotion each modality saw per utterance) and the transcript.
"""

from __future__ import annotations

import datetime as _dt
from html import escape

from affectkit import __version__
from affectkit.analysis.results import MODALITIES, FileResult, UtteranceResult, polarity
from affectkit.taxonomy import CANONICAL_EMOTIONS

COLORS = {
    "neutral": "#8c8c8c", "happy": "#f2b701", "sad": "#3969ac", "angry": "#e73f74",
    "fearful": "#7f3c8d", "disgusted": "#11a579", "surprised": "#f97b27",
}
CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 6px;border-top:1px solid #ddd;padding-top:14px}
h3{font-size:15px;margin:16px 0 6px} .muted{color:#777} .warn{background:#fff4d6;border-left:4px solid #f2b701;padding:6px 10px;margin:4px 0}
.err{background:#fde2e6;border-left:4px solid #e73f74;padding:6px 10px;margin:4px 0}
table{border-collapse:collapse;margin:6px 0;width:100%} td,th{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;vertical-align:top}
th{font-weight:600;background:#fafafa} .chip{display:inline-block;padding:1px 7px;border-radius:9px;color:#fff;font-size:12px;white-space:nowrap}
.legend span{margin-right:12px;white-space:nowrap} .sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
.bar{display:flex;height:16px;border-radius:3px;overflow:hidden;margin:4px 0 10px}
svg text{font-size:11px;fill:#555}
"""


def _chip(emotion: str | None, extra: str = "") -> str:
    if emotion is None:
        return '<span class="muted">—</span>'
    return (f'<span class="chip" style="background:{COLORS.get(emotion, "#999")}">'
            f'{escape(emotion)}{escape(extra)}</span>')


def _x_positions(utts: list[UtteranceResult]) -> tuple[list[float], str]:
    if utts and all(u.start is not None and u.end is not None for u in utts):
        return [(u.start + u.end) / 2 for u in utts], "time (s)"
    return [float(u.index) for u in utts], "utterance"


def timeline_svg(fr: FileResult, width: int = 1000, height: int = 230) -> str:
    """Fused emotion probabilities per utterance (one polyline per emotion) and sentiment."""
    utts = [u for u in fr.utterances if u.fused is not None]
    if not utts:
        return '<p class="muted">No utterances to plot.</p>'
    xs, xlabel = _x_positions(utts)
    left, right, top, ph, gap, sh = 44, 12, 10, 120, 26, 60
    x0, x1 = min(xs), max(xs)
    if fr.duration and xlabel.startswith("time"):
        x0, x1 = 0.0, max(fr.duration, x1)
    span = (x1 - x0) or 1.0

    def X(x: float) -> float:
        return left + (x - x0) / span * (width - left - right) if len(xs) > 1 or x1 > x0 else width / 2

    parts = [f'<svg id="timeline-{escape(_slug(fr.file))}" class="timeline" xmlns="http://www.w3.org/2000/svg" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="emotion timeline">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" '
             'markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
    parts.append(f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{ph}" fill="#fcfcfc" stroke="#ddd"/>')
    for v in (0, 0.5, 1):
        y = top + ph * (1 - v)
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>')
    for k, e in enumerate(CANONICAL_EMOTIONS):
        pts = " ".join(f"{X(x):.1f},{top + ph * (1 - u.fused.emotion_probs[k]):.1f}" for x, u in zip(xs, utts))
        parts.append(f'<polyline class="emo" data-emotion="{e}" fill="none" stroke="{COLORS[e]}" '
                     f'stroke-width="2" points="{pts}"/>')
        for x, u in zip(xs, utts):
            parts.append(f'<circle cx="{X(x):.1f}" cy="{top + ph * (1 - u.fused.emotion_probs[k]):.1f}" '
                         f'r="2.5" fill="{COLORS[e]}"/>')
    # sentiment panel (−3..3)
    sy = top + ph + gap
    parts.append(f'<rect x="{left}" y="{sy}" width="{width - left - right}" height="{sh}" fill="#fcfcfc" stroke="#ddd"/>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{sy + sh / 2}" y2="{sy + sh / 2}" stroke="#ccc" stroke-dasharray="3,3"/>')
    for v in (3, 0, -3):
        parts.append(f'<text x="{left - 6}" y="{sy + sh * (3 - v) / 6 + 4:.1f}" text-anchor="end">{v:+d}</text>')
    sp = [(X(x), sy + sh * (3 - u.fused.sentiment) / 6) for x, u in zip(xs, utts) if u.fused.sentiment is not None]
    if sp:
        parts.append('<polyline class="sentiment" fill="none" stroke="#222" stroke-width="2" points="'
                     + " ".join(f"{a:.1f},{b:.1f}" for a, b in sp) + '"/>')
    # cause arrows (conversations): from the cause utterance to the emotion utterance, above
    # the probability panel, thicker for a higher cause score
    pos = {u.index: X(x) for x, u in zip(xs, utts)}
    for u in utts:
        for c in (u.reason or {}).get("causes", []):
            if c["utterance"] in pos and c["utterance"] != u.index:
                a, b = pos[c["utterance"]], pos[u.index]
                mid, lift = (a + b) / 2, min(40.0, 8 + abs(b - a) / 6)
                parts.append(f'<path class="cause" data-from="{c["utterance"]}" data-to="{u.index}" '
                             f'd="M{a:.1f},{top + 2} Q{mid:.1f},{top - lift + 12:.1f} {b:.1f},{top + 2}" '
                             f'fill="none" stroke="#555" stroke-width="{1 + 2 * c["score"]:.1f}" '
                             f'marker-end="url(#arrow)"><title>{escape(u.reason["sentence"])}</title></path>')
    parts.append(f'<text x="{left}" y="{sy - 6}">sentiment</text>')
    parts.append(f'<text x="{width - right}" y="{height - 4}" text-anchor="end">{escape(xlabel)}'
                 f' {x0:.3g}–{x1:.3g}</text>')
    parts.append("</svg>")
    legend = '<div class="legend">' + "".join(
        f'<span><i class="sw" style="background:{COLORS[e]}"></i>{e}</span>' for e in CANONICAL_EMOTIONS
    ) + '<span><i class="sw" style="background:#222"></i>sentiment</span></div>'
    return legend + "".join(parts)


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in s)[-60:]


def _distribution_bar(fr: FileResult) -> str:
    s = fr.summary()
    probs = s["mean_emotion_probs"]
    if not probs:
        return ""
    segs = "".join(f'<div title="{e} {p:.0%}" style="width:{p * 100:.2f}%;background:{COLORS[e]}"></div>'
                   for e, p in probs.items() if p > 0)
    return f'<div class="bar">{segs}</div>'


def _file_section(fr: FileResult) -> str:
    s = fr.summary()
    out = [f'<h2>{escape(fr.file)}</h2>']
    dur = f"{fr.duration:.1f} s · " if fr.duration else ""
    if not fr.ok:
        out.append(f'<div class="err">Failed: {escape(fr.error or "")}</div>')
        return "\n".join(out)
    present = ", ".join(f"{m} {n}/{s['n_utterances']}" for m, n in s["modality_coverage"].items())
    ms = f"{s['mean_sentiment']:+.2f} ({polarity(s['mean_sentiment'])})" if s["mean_sentiment"] is not None else "n/a"
    out.append(f'<p class="muted">{escape(fr.kind)} · {dur}{s["n_utterances"]} utterances · '
               f'modalities present: {escape(present)} · mean sentiment {ms}</p>')
    for w in fr.warnings:
        out.append(f'<div class="warn">{escape(w)}</div>')
    out.append("<h3>Mean emotion probabilities</h3>" + _distribution_bar(fr))
    out.append("<h3>Timeline</h3>" + timeline_svg(fr))
    reasons = [u for u in fr.utterances if u.reason]
    if reasons:
        out.append('<h3>Why: causes and cues</h3><ul class="reasons">' + "".join(
            f'<li data-utterance="{u.index}">#{u.index} {_chip(u.emotion)} '
            f'{escape(u.reason["sentence"])}</li>' for u in reasons) + "</ul>")
    if s["by_speaker"]:
        out.append("<h3>Per speaker</h3><table><tr><th>speaker</th><th>emotions (count)</th></tr>")
        for spk, d in s["by_speaker"].items():
            out.append(f"<tr><td>{escape(spk)}</td><td>" + " ".join(_chip(e, f" {n}") for e, n in d.items()) + "</td></tr>")
        out.append("</table>")
    out.append('<h3>Per-modality agreement and transcript</h3><table class="agreement"><tr><th>#</th><th>time</th>'
               '<th>speaker</th><th>text</th>' + "".join(f"<th>{m}</th>" for m in MODALITIES)
               + "<th>fused</th><th>sentiment</th></tr>")
    for u in fr.utterances:
        t = f"{u.start:.1f}–{u.end:.1f}" if u.start is not None and u.end is not None else ""
        cells = []
        for m in MODALITIES:
            o = u.per_modality.get(m)
            if o is None:
                if m not in u.modalities_present:
                    cells.append('<td class="muted">absent</td>')
                elif m == "audio" and getattr(u, "non_speech", None):
                    cells.append('<td class="muted" title="music, noise or silence: the voice abstains">'
                                 'non-speech</td>')
                else:
                    cells.append('<td class="muted">unused</td>')
            else:
                cells.append("<td>" + _chip(CANONICAL_EMOTIONS[int(o.emotion_probs.argmax())],
                                            f" {o.emotion_probs.max():.0%}") + "</td>")
        agree = {CANONICAL_EMOTIONS[int(o.emotion_probs.argmax())] for o in u.per_modality.values()}
        fused = _chip(u.emotion) + ("" if len(agree) <= 1 else ' <span class="muted" title="modalities disagree">≠</span>')
        sent = f"{u.fused.sentiment:+.2f}" if u.fused and u.fused.sentiment is not None else "—"
        text = escape(u.text or "")
        if u.asr_confidence is not None and u.asr_confidence < 0.5:
            text += ' <span class="muted" title="low ASR confidence">(?)</span>'
        out.append(f"<tr><td>{u.index}</td><td>{t}</td><td>{escape(u.speaker or '')}</td><td>{text}</td>"
                   + "".join(cells) + f"<td>{fused}</td><td>{sent}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


def render_report(results: list[FileResult], title: str = "affectkit analysis") -> str:
    ok = sum(r.ok for r in results)
    when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    head = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head><body>')
    intro = (f"<h1>{escape(title)}</h1><p class=\"muted\">{ok}/{len(results)} files analysed · "
             f"affectkit {__version__} · {when}. Emotions: {', '.join(CANONICAL_EMOTIONS)}; "
             "sentiment −3 (negative) … +3 (positive). Default models are trained on acted speech, "
             "FER2013 faces and English text: see docs/model_card.md for limits.</p>")
    failed = [r for r in results if not r.ok]
    if failed:
        intro += "<h3>Failures</h3><table><tr><th>file</th><th>error</th></tr>" + "".join(
            f"<tr><td>{escape(r.file)}</td><td>{escape(r.error or '')}</td></tr>" for r in failed) + "</table>"
    body = "\n".join(_file_section(r) for r in results if r.ok)
    return head + intro + body + "</body></html>"
