// card.html: one self-contained page rendered from card.json's content. Inline CSS and inline
// SVG only: no scripts, no fonts, no network (a Content-Security-Policy meta tag forbids
// everything else, so even a bug in escaping could not run code or fetch anything). Light and
// dark via prefers-color-scheme. Deterministic: the output depends on the card alone (no clock,
// no environment lookups), so the same card renders to the same bytes.

import type { CardJson, RocCurve, PrCurve } from './card.js';
import { barChartH, esc, fmtNum, heatmap, histogramChart, lineChart, niceDomain, scatterChart, truncate } from './svg-chart.js';

/** Ids of the plot <svg> elements a card page can hold (tests look them up). */
export const CARD_PLOT_IDS = {
  roc: 'plot-roc',
  pr: 'plot-pr',
  reliability: 'plot-reliability',
  scoreHistogram: 'plot-score-histogram',
  confusion: 'plot-confusion',
  importance: 'plot-importance',
  residuals: 'plot-residuals',
  predictedVsActual: 'plot-pred-vs-actual',
} as const;

/** The plot ids a card of this task shows when its data is present. */
export function expectedPlotIds(task: CardJson['task']): string[] {
  const p = CARD_PLOT_IDS;
  return task === 'regression' ? [p.residuals, p.predictedVsActual, p.importance] : [p.roc, p.pr, p.reliability, p.scoreHistogram, p.confusion, p.importance];
}

/** Most features drawn in the importance chart (all are listed in the table below it). */
const TOP_FEATURES = 20;
/** Most classes drawn as a confusion heatmap (more are listed as a note). */
const MAX_HEATMAP_CLASSES = 30;

const PREFERRED_METRICS = ['auc', 'rocauc', 'prauc', 'averageprecision', 'accuracy', 'f1', 'f1macro', 'logloss', 'brier', 'ece', 'rmse', 'mae', 'r2'];

function normName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

const CSS = `
:root{--bg:#ffffff;--panel:#f6f7f9;--fg:#1b1f24;--muted:#57606a;--grid:#e3e6ea;--axis:#8c959f;--border:#d0d7de;--heat:#0b62a4;--link:#0b62a4;
--c0:#0072b2;--c1:#d55e00;--c2:#009e73;--c3:#cc79a7;--c4:#e69f00;--c5:#56b4e9;--c6:#8c564b;--c7:#6e6e6e;--c8:#a3a500;--c9:#17a2b8;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#0f1216;--panel:#171b21;--fg:#e6e8eb;--muted:#9aa4ae;--grid:#262c34;--axis:#5b6670;--border:#30363d;--heat:#4aa3ff;--link:#6cb6ff;
--c0:#56b4e9;--c1:#ff8c42;--c2:#2ed9a0;--c3:#e59bc8;--c4:#f5c04a;--c5:#9ad0f5;--c6:#c49c94;--c7:#bbbbbb;--c8:#dbdb8d;--c9:#9edae5}}
*{box-sizing:border-box}
html{background:var(--bg);color:var(--fg)}
body{margin:0 auto;max-width:1240px;padding:24px 28px 48px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--border)}h3{font-size:15px;margin:0 0 2px}
a{color:var(--link)}code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;overflow-wrap:anywhere}
.sub{color:var(--muted);margin:0 0 12px}
nav{display:flex;flex-wrap:wrap;gap:4px 14px;margin:8px 0 0;font-size:13px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px;margin:12px 0 0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;min-width:0}
.tiles{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0 16px}
.tile{background:var(--panel);border:1px solid var(--border);border-radius:8px;padding:8px 14px;min-width:110px}
.tile .v{font-size:20px;font-weight:600;font-variant-numeric:tabular-nums}.tile .k{color:var(--muted);font-size:12px}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(470px,1fr));gap:18px}
figure.plot{margin:0;background:var(--panel);border:1px solid var(--border);border-radius:8px;padding:12px 12px 8px;break-inside:avoid;min-width:0}
figure.plot p{margin:0 0 8px;color:var(--muted);font-size:12.5px}
.chart{display:block;max-width:100%;height:auto;overflow:visible}
.chart text{fill:var(--muted);font-size:11px;font-family:inherit}
.chart .axis-label{fill:var(--fg);font-size:12px}
.chart .note{font-style:italic}
.chart .legend text{fill:var(--fg)}
.grid line{stroke:var(--grid);stroke-width:1}
.axis line{stroke:var(--axis);stroke-width:1}
.s0{--c:var(--c0)}.s1{--c:var(--c1)}.s2{--c:var(--c2)}.s3{--c:var(--c3)}.s4{--c:var(--c4)}.s5{--c:var(--c5)}.s6{--c:var(--c6)}.s7{--c:var(--c7)}.s8{--c:var(--c8)}.s9{--c:var(--c9)}
.series{fill:none;stroke:var(--c);stroke-width:2;stroke-linejoin:round}
.ref{stroke:var(--axis);stroke-width:1.2;stroke-dasharray:5 4;fill:none}
.ref.hued{stroke:var(--c);opacity:.8}
.markers circle{fill:var(--c);fill-opacity:.85;stroke:var(--bg);stroke-width:1}
.area{fill:var(--c);fill-opacity:.3;stroke:var(--c);stroke-width:1.5}
.box{fill:var(--c);fill-opacity:.6;stroke:var(--c)}
.bar{fill:var(--c)}
.chart .bar-label{fill:var(--fg)}
.dots circle{fill:var(--c);fill-opacity:.45}
.cell-bg{fill:var(--bg);stroke:var(--grid)}.heat{fill:var(--heat)}
.chart .cell-text{fill:var(--fg)}.chart .cell-text.strong{fill:#ffffff}
table{border-collapse:collapse;margin:6px 0 10px;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid var(--border);padding:4px 12px 4px 0;text-align:left;vertical-align:top}
th{color:var(--muted);font-weight:600}td.num,th.num{text-align:right}
.scroll{overflow-x:auto}
.note{color:var(--muted);font-style:italic}
details{margin:8px 0}summary{cursor:pointer;color:var(--link)}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:8px 32px}
footer{margin-top:40px;color:var(--muted);font-size:12px}
@media print{figure.plot,table{break-inside:avoid}nav{display:none}}
`;

function table(head: string[], rows: string[][], numeric: boolean[] = []): string {
  const th = head.map((h, i) => `<th${numeric[i] ? ' class="num"' : ''}>${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((cell, i) => `<td${numeric[i] ? ' class="num"' : ''}>${cell}</td>`).join('')}</tr>`).join('');
  return `<div class="scroll"><table><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table></div>`;
}

function facts(pairs: [string, string][]): string {
  return `<dl class="facts">${pairs.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
}

function figure(id: string, title: string, caption: string, body: string): string {
  return `<figure class="plot" id="fig-${id}"><figcaption><h3>${esc(title)}</h3><p>${caption}</p></figcaption>${body}</figure>`;
}

function noteFigure(id: string, title: string, note: string): string {
  return figure(id, title, '', `<p class="note">${esc(note)}</p>`);
}

function pct(n: number, total: number): string {
  return total > 0 ? `${fmtNum((100 * n) / total, 3)}%` : 'n/a';
}

function hash(h: string | null): string {
  return h ? `<code title="${esc(h)}">${esc(h.slice(0, 16))}…</code>` : '<span class="note">n/a</span>';
}

function bytes(n: number): string {
  return n >= 2 ** 30 ? `${fmtNum(n / 2 ** 30, 3)} GiB` : `${fmtNum(n / 2 ** 20, 3)} MiB`;
}

function jsonValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function durationText(start: string, end: string | null): string | null {
  if (!end) return null;
  const ms = Date.parse(end) - Date.parse(start);
  if (!Number.isFinite(ms) || ms < 0) return null;
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  return s < 120 ? `${fmtNum(s, 3)} s` : `${fmtNum(s / 60, 3)} min`;
}

function rocName(r: RocCurve, single: boolean): string {
  const auc = r.auc === null ? 'AUC n/a' : `AUC ${fmtNum(r.auc, 3)}`;
  return single ? auc : `${r.label} (${auc})`;
}

function prName(p: PrCurve, single: boolean): string {
  const ap = p.averagePrecision === null ? 'AP n/a' : `AP ${fmtNum(p.averagePrecision, 3)}`;
  return single ? ap : `${p.label} (${ap})`;
}

function classificationPlots(card: CardJson): string[] {
  const out: string[] = [];
  const { roc, pr, reliability, scoreHistogram } = card.curves;
  const ids = CARD_PLOT_IDS;
  const unit: [number, number] = [0, 1];
  const ovr = card.task === 'multiclass' ? ' One curve per class against the rest.' : '';
  if (roc.length) {
    const single = roc.length === 1;
    const which = single ? ` (positive class: <b>${esc(roc[0]!.label)}</b>)` : '';
    out.push(
      figure(
        ids.roc,
        'ROC curve',
        `True-positive rate against false-positive rate as the threshold moves${which}; the dashed diagonal is a random ranking.${ovr}`,
        lineChart({
          id: ids.roc,
          title: 'ROC curve',
          desc: roc.map((r) => `${r.label}: ${rocName(r, true)}`).join('; '),
          x: { label: 'False-positive rate', domain: unit },
          y: { label: 'True-positive rate', domain: unit },
          series: roc.map((r) => ({ name: rocName(r, single), x: r.fpr, y: r.tpr })),
          reference: { kind: 'diagonal' },
          emptyNote: 'undefined: the evaluated split has one class only',
        }),
      ),
    );
  } else out.push(noteFigure(ids.roc, 'ROC curve', card.notes.find((n) => n.startsWith('ROC')) ?? 'No ROC curve recorded.'));
  if (pr.length) {
    const single = pr.length === 1;
    out.push(
      figure(
        ids.pr,
        'Precision–recall curve',
        `Precision against recall as the threshold moves; dashed: the share of positives (a random ranking's precision).${ovr}`,
        lineChart({
          id: ids.pr,
          title: 'Precision-recall curve',
          desc: pr.map((p) => `${p.label}: ${prName(p, true)}, positive rate ${fmtNum(p.positiveRate, 3)}`).join('; '),
          x: { label: 'Recall', domain: unit },
          y: { label: 'Precision', domain: unit },
          series: pr.map((p) => ({ name: prName(p, single), x: p.recall, y: p.precision })),
          reference: pr.map((p) => ({ y: p.positiveRate, label: `${p.label}: positive rate ${fmtNum(p.positiveRate, 3)}` })),
          emptyNote: 'undefined: no positives in the evaluated split',
        }),
      ),
    );
  } else out.push(noteFigure(ids.pr, 'Precision–recall curve', card.notes.find((n) => n.startsWith('ROC') || n.startsWith('PR')) ?? 'No precision-recall curve recorded.'));
  if (reliability.length) {
    const ece = Object.entries(card.metrics).find(([k]) => normName(k) === 'ece' || normName(k) === 'expectedcalibrationerror');
    const eceText = ece && ece[1] !== null ? ` ECE ${fmtNum(ece[1], 3)}.` : '';
    const maxCount = Math.max(1, ...reliability.flatMap((r) => r.bins.map((b) => b.count)));
    const what = card.task === 'multiclass' ? 'top-class probability against how often the top class is right' : 'predicted probability against the observed frequency';
    out.push(
      figure(
        ids.reliability,
        'Reliability (calibration)',
        `Mean ${what}, per probability bin (marker area ∝ rows); on the dashed diagonal the probabilities mean what they say.${eceText}`,
        lineChart({
          id: ids.reliability,
          title: 'Reliability curve',
          desc: reliability.map((r) => `${r.label}: ${r.bins.length} bins`).join('; '),
          x: { label: 'Mean predicted probability', domain: unit },
          y: { label: 'Observed frequency', domain: unit },
          series: reliability.map((r) => ({
            name: r.label,
            x: r.bins.map((b) => b.meanPredicted),
            y: r.bins.map((b) => b.observedFrequency),
            markerRadius: r.bins.map((b) => 2 + 5 * Math.sqrt(b.count / maxCount)),
            markerTitle: r.bins.map((b) => `[${fmtNum(b.lower, 3)}, ${fmtNum(b.upper, 3)}): predicted ${fmtNum(b.meanPredicted, 3)}, observed ${fmtNum(b.observedFrequency, 3)}, ${b.count} rows`),
          })),
          reference: { kind: 'diagonal' },
          emptyNote: 'no rows',
        }),
      ),
    );
  } else out.push(noteFigure(ids.reliability, 'Reliability (calibration)', 'No reliability bins recorded.'));
  if (scoreHistogram) {
    out.push(
      figure(
        ids.scoreHistogram,
        'Score distribution',
        `Rows per bin of ${esc(scoreHistogram.score)}, by actual class.`,
        histogramChart({
          id: ids.scoreHistogram,
          title: 'Score histogram',
          desc: `${scoreHistogram.score} by actual class`,
          xLabel: scoreHistogram.score,
          yLabel: 'Rows',
          edges: scoreHistogram.edges,
          series: scoreHistogram.series.map((s) => ({ name: `actual ${s.label}`, counts: s.counts })),
        }),
      ),
    );
  } else out.push(noteFigure(ids.scoreHistogram, 'Score distribution', 'No score histogram recorded.'));
  const cm = card.confusionMatrix;
  if (cm && cm.labels.length <= MAX_HEATMAP_CLASSES) {
    const total = cm.matrix.reduce((a, r) => a + r.reduce((x, y) => x + y, 0), 0);
    const right = cm.matrix.reduce((a, r, i) => a + (r[i] ?? 0), 0);
    const rule = cm.threshold === null ? 'the most probable class' : `P(${esc(cm.labels[1] ?? '')}) ≥ ${esc(fmtNum(cm.threshold))}`;
    out.push(
      figure(
        ids.confusion,
        'Confusion matrix',
        `Rows of each actual class by predicted class (${rule}); ${right} of ${total} right (${pct(right, total)}).`,
        heatmap({ id: ids.confusion, title: 'Confusion matrix', desc: `${cm.labels.length} classes, ${total} rows`, labels: cm.labels, matrix: cm.matrix }),
      ),
    );
  } else if (cm) out.push(noteFigure(ids.confusion, 'Confusion matrix', `${cm.labels.length} classes: too many to draw; see card.json.`));
  else out.push(noteFigure(ids.confusion, 'Confusion matrix', 'No confusion matrix recorded.'));
  return out;
}

function regressionPlots(card: CardJson): string[] {
  const out: string[] = [];
  const ids = CARD_PLOT_IDS;
  const rh = card.curves.residualHistogram;
  if (rh) {
    out.push(
      figure(
        ids.residuals,
        'Residuals',
        'Rows per bin of actual − predicted; a narrow peak at zero is good, a shifted one is bias.',
        histogramChart({ id: ids.residuals, title: 'Residual histogram', desc: 'actual minus predicted', xLabel: 'Actual − predicted', yLabel: 'Rows', edges: rh.edges, series: [{ name: 'residual', counts: rh.counts }] }),
      ),
    );
  } else out.push(noteFigure(ids.residuals, 'Residuals', 'No residual histogram recorded.'));
  const pa = card.curves.predictedVsActual;
  if (pa) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of [...pa.actual, ...pa.predicted]) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const domain = pa.actual.length ? niceDomain(lo, hi) : ([0, 1] as [number, number]);
    const sample = pa.actual.length < pa.totalRows ? ` (${pa.actual.length} of ${pa.totalRows} rows, evenly spaced)` : '';
    out.push(
      figure(
        ids.predictedVsActual,
        'Predicted vs actual',
        `One dot per row${sample}; the dashed diagonal is a perfect prediction.`,
        scatterChart({ id: ids.predictedVsActual, title: 'Predicted vs actual', desc: `${pa.actual.length} points`, x: { label: 'Actual', domain }, y: { label: 'Predicted', domain }, xs: pa.actual, ys: pa.predicted, diagonal: true }),
      ),
    );
  } else out.push(noteFigure(ids.predictedVsActual, 'Predicted vs actual', 'No predictions recorded.'));
  return out;
}

function importanceSection(card: CardJson): string {
  const { measure, features } = card.featureImportance;
  if (features.length === 0) return `<p class="note">No feature importance recorded for this model.</p>`;
  const total = features.reduce((a, f) => a + Math.max(0, f.gain), 0);
  const top = features.slice(0, TOP_FEATURES);
  const shown = features.length > top.length ? `the top ${top.length} of ${features.length} features` : `all ${features.length} features`;
  const chart = figure(
    CARD_PLOT_IDS.importance,
    'Feature importance',
    `${esc(measure)} per feature, ${shown}.`,
    barChartH({
      id: CARD_PLOT_IDS.importance,
      title: 'Feature importance',
      desc: `${measure}, ${shown}`,
      xLabel: measure,
      items: top.map((f) => ({ label: f.name, value: f.gain, tip: `${f.name}: ${fmtNum(f.gain)} (${pct(Math.max(0, f.gain), total)})${f.splits === null ? '' : `, ${f.splits} splits`}` })),
    }),
  );
  const rows = features.map((f, i) => [String(i + 1), `<span class="mono">${esc(f.name)}</span>`, esc(fmtNum(f.gain)), pct(Math.max(0, f.gain), total), f.splits === null ? 'n/a' : String(f.splits)]);
  return `<div class="plots">${chart}</div><details><summary>All ${features.length} features</summary>${table(['#', 'feature', measure, 'share', 'splits'], rows, [true, false, true, true, true])}</details>`;
}

function summaryTiles(card: CardJson): string {
  const entries = Object.entries(card.metrics);
  const picked: [string, number | null][] = [];
  for (const want of PREFERRED_METRICS) {
    const hit = entries.find(([k]) => normName(k) === want || (normName(k).endsWith(want) && normName(k).startsWith(normName(card.data.evaluatedOn))));
    if (hit && !picked.some(([k]) => k === hit[0])) picked.push(hit);
    if (picked.length >= 6) break;
  }
  if (picked.length === 0) return '';
  return `<div class="tiles">${picked.map(([k, v]) => `<div class="tile"><div class="v">${esc(fmtNum(v))}</div><div class="k">${esc(k)}</div></div>`).join('')}</div>`;
}

function performanceSection(card: CardJson): string {
  let s = summaryTiles(card);
  const entries = Object.entries(card.metrics);
  s += entries.length ? table(['metric', 'value'], entries.map(([k, v]) => [`<span class="mono">${esc(k)}</span>`, esc(fmtNum(v, 6))]), [false, true]) : '<p class="note">No metrics recorded.</p>';
  if (card.classReport.length) {
    s += '<h3>Per class</h3>';
    s += table(
      ['class', 'precision', 'recall', 'F1', 'support'],
      card.classReport.map((r) => [esc(r.label), esc(fmtNum(r.precision)), esc(fmtNum(r.recall)), esc(fmtNum(r.f1)), String(r.support)]),
      [false, true, true, true, true],
    );
  }
  return s;
}

function probabilitySection(card: CardJson): string {
  const parts: string[] = [];
  const cal = card.calibration;
  if (cal) {
    const keys = [...new Set([...Object.keys(cal.before), ...Object.keys(cal.after)])].sort();
    let s = `<div><h3>Calibration</h3>${facts([
      ['method', esc(cal.method)],
      ['fitted on', cal.fittedOn ? esc(cal.fittedOn) : 'n/a'],
      ['rows', cal.rows === null ? 'n/a' : String(cal.rows)],
    ])}`;
    if (keys.length) s += table(['metric', 'before', 'after'], keys.map((k) => [esc(k), esc(fmtNum(cal.before[k])), esc(fmtNum(cal.after[k]))]), [false, true, true]);
    parts.push(`${s}</div>`);
  }
  const th = card.threshold;
  if (th) {
    parts.push(
      `<div><h3>Decision threshold</h3>${facts([
        ['objective', esc(th.objective)],
        ['threshold', esc(fmtNum(th.value, 6))],
        ['objective value', esc(fmtNum(th.objectiveValue))],
      ])}</div>`,
    );
  }
  const cf = card.conformal;
  if (cf) {
    const rows: [string, string][] = [
      ['kind', cf.kind === 'sets' ? 'prediction sets' : 'prediction intervals'],
      ['α', `${esc(fmtNum(cf.alpha))} (target coverage ${esc(fmtNum(1 - cf.alpha))})`],
      ['empirical coverage', esc(fmtNum(cf.coverage))],
      ['calibration rows', cf.calibrationRows === null ? 'n/a' : String(cf.calibrationRows)],
    ];
    if (cf.meanSetSize !== null) rows.push(['mean set size', esc(fmtNum(cf.meanSetSize))]);
    if (cf.meanIntervalWidth !== null) rows.push(['mean interval width', esc(fmtNum(cf.meanIntervalWidth))]);
    parts.push(`<div><h3>Conformal prediction</h3>${facts(rows)}</div>`);
  }
  return parts.length ? `<div class="cols">${parts.join('')}</div>` : '';
}

function dataSection(card: CardJson): string {
  const d = card.data;
  let s = facts([
    ['target', d.target === null ? 'n/a' : `<span class="mono">${esc(d.target)}</span>`],
    ['features', String(d.featureCount)],
    ['evaluated on', esc(d.evaluatedOn)],
  ]);
  if (d.splits.length) {
    const labels = card.classes.length ? card.classes : [...new Set(d.splits.flatMap((sp) => Object.keys(sp.classCounts ?? {})))];
    const withClasses = d.splits.some((sp) => sp.classCounts);
    const head = ['split', 'rows', ...(withClasses ? labels.map((l) => `class ${l}`) : [])];
    const rows = d.splits.map((sp) => [
      esc(sp.name),
      String(sp.rows),
      ...(withClasses ? labels.map((l) => (sp.classCounts && l in sp.classCounts ? `${sp.classCounts[l]} <span class="note">(${pct(sp.classCounts[l]!, sp.rows)})</span>` : 'n/a')) : []),
    ]);
    s += `<h3>Splits and class balance</h3>${table(head, rows, head.map((_, i) => i > 0))}`;
  }
  if (d.datasets.length) {
    s += `<h3>Inputs</h3>${table(
      ['role', 'path', 'sha256', 'version id'],
      d.datasets.map((x) => [esc(x.role), x.path === null ? 'n/a' : `<code>${esc(x.path)}</code>`, hash(x.sha256), x.versionId === null ? 'n/a' : `<code>${esc(x.versionId)}</code>`]),
    )}`;
  }
  return s;
}

function modelSection(card: CardJson): string {
  const m = card.model;
  let s = facts([
    ['kind', esc(m.kind)],
    ['objective', esc(m.objective)],
    ['best iteration', m.bestIteration === null ? 'n/a' : String(m.bestIteration)],
    ['model sha256', m.modelHash === null ? 'n/a' : `<code>${esc(m.modelHash)}</code>`],
    ['classes', card.classes.length ? card.classes.map((c) => `<span class="mono">${esc(c)}</span>`).join(', ') : 'n/a (regression)'],
  ]);
  const params = Object.entries(m.params);
  if (params.length) s += `<details open><summary>Parameters (${params.length})</summary>${table(['parameter', 'value'], params.map(([k, v]) => [`<span class="mono">${esc(k)}</span>`, `<code>${esc(jsonValue(v))}</code>`]))}</details>`;
  return s;
}

function environmentSection(card: CardJson): string {
  const e = card.environment;
  const g = card.git;
  const pairs: [string, string][] = [
    ['node', esc(e.node)],
    ['platform', `${esc(e.platform)} / ${esc(e.arch)}`],
    ['CPU', `${esc(e.cpuModel)} · ${e.cores} cores`],
    ['memory', esc(bytes(e.memoryBytes))],
    ['SIMD', esc(e.simdLevel)],
    ['CUDA build', e.cudaCompiled === null ? 'unknown' : e.cudaCompiled ? 'yes' : 'no'],
    ['GPU', e.gpu ? `${esc(e.gpu.name)} · ${esc(bytes(e.gpu.memoryBytes))} · sm ${esc(e.gpu.computeCapability)}` : 'none'],
    ['git', g ? `<code>${esc(g.commit)}</code>${g.branch ? ` on ${esc(g.branch)}` : ' (detached)'}${g.dirty ? ' <b>with uncommitted changes</b>' : ''}` : 'n/a'],
  ];
  let s = facts(pairs);
  const pk = Object.entries(e.packages);
  const env = Object.entries(e.env);
  s += '<div class="cols">';
  s += `<div><h3>Packages</h3>${table(['package', 'version'], pk.map(([k, v]) => [`<span class="mono">${esc(k)}</span>`, v === null ? 'n/a' : esc(v)]))}</div>`;
  s += `<div><h3>KILN_* variables</h3>${env.length ? table(['variable', 'value'], env.map(([k, v]) => [`<span class="mono">${esc(k)}</span>`, `<code>${esc(v)}</code>`])) : '<p class="note">none set</p>'}</div>`;
  return `${s}</div>`;
}

/** card.html: the whole page as one string (deterministic for a given card). */
export function renderCardHtml(card: CardJson): string {
  const plots = card.task === 'regression' ? regressionPlots(card) : classificationPlots(card);
  const duration = durationText(card.startedAt, card.endedAt);
  const head = facts([
    ['run', `<code>${esc(card.runId)}</code>`],
    ['started', `<span class="mono">${esc(card.startedAt)}</span>`],
    ['ended', card.endedAt ? `<span class="mono">${esc(card.endedAt)}</span>${duration ? ` (${esc(duration)})` : ''}` : 'n/a'],
    ['model', `${esc(card.model.kind)} · ${esc(card.model.objective)}${card.model.bestIteration === null ? '' : ` · best iteration ${card.model.bestIteration}`}`],
    ['model sha256', hash(card.model.modelHash)],
  ]);
  const probability = probabilitySection(card);
  const sections: [string, string, string][] = [
    ['performance', `Performance on ${card.data.evaluatedOn}`, performanceSection(card)],
    ['plots', 'Plots', `<div class="plots">${plots.join('')}</div>`],
    ...(probability ? ([['probabilities', 'Calibration, threshold, conformal', probability]] as [string, string, string][]) : []),
    ['importance', 'Feature importance', importanceSection(card)],
    ['data', 'Data', dataSection(card)],
    ['model', 'Model', modelSection(card)],
    ['environment', 'Environment', environmentSection(card)],
    ...(card.notes.length ? ([['notes', 'Notes', `<ul>${card.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`]] as [string, string, string][]) : []),
  ];
  const nav = `<nav>${sections.map(([id, title]) => `<a href="#${id}">${esc(truncate(title, 40))}</a>`).join('')}</nav>`;
  const body = sections.map(([id, title, html]) => `<section id="${id}"><h2>${esc(title)}</h2>${html}</section>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">
<meta name="generator" content="kiln model card v${card.version}">
<title>Model card: ${esc(card.title)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>Model card: ${esc(card.title)}</h1>
<p class="sub">${card.task === 'regression' ? 'regression' : `${esc(card.task)} classification`}${card.data.target ? ` of <span class="mono">${esc(card.data.target)}</span>` : ''} · ${esc(card.model.kind)} · evaluated on ${esc(card.data.evaluatedOn)}</p>
${head}
${nav}
</header>
<main>
${body}
</main>
<footer>kiln model card, format version ${card.version}. This page is self-contained (no scripts, no network); its data is in card.json beside it.</footer>
</body>
</html>
`;
}
