// Small static SVG charts for the model card (src/evaluate/card-html.ts): line, scatter,
// histogram, horizontal bar and heatmap charts with axes, ticks, labels and legends.
// Pure string building: the same input gives the same bytes (no clock, no randomness, fixed
// number formatting). Every caller-supplied string goes through `esc`; element ids are built by
// the caller from fixed names, never from user data. Colours come from CSS classes (s0…s9,
// grid, axis, ref …) so the page's stylesheet can switch light/dark without touching the SVG.

/** Escapes text for HTML/SVG content and double- or single-quoted attribute values. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}

/** `text` cut to at most `max` code points, with an ellipsis when cut. */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, Math.max(1, max - 1)).join('')}…`;
}

/** A coordinate with one decimal, never "-0". */
function c(v: number): string {
  const r = Math.round(v * 10) / 10;
  return String(r === 0 ? 0 : r);
}

/** A number for people: up to 4 significant digits, thousands as k/M, no trailing zeros. */
export function fmtNum(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined || Number.isNaN(v)) return 'n/a';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1e6) return String(v);
  if (a >= 1e6 || a < 1e-4) return v.toExponential(Math.max(0, digits - 2)).replace(/\.?0+e/, 'e');
  const s = v.toPrecision(digits);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** Tick label: integers plainly, thousands compact (12k, 1.5M), fractions by `fmtNum`. */
function fmtTick(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${fmtNum(v / 1e6, 3)}M`;
  if (a >= 1e4) return `${fmtNum(v / 1e3, 3)}k`;
  return fmtNum(Math.round(v * 1e9) / 1e9, 4);
}

/** About `count` round tick values (1, 2, 5 × 10^k steps) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  const start = Math.ceil(lo / step - 1e-9);
  for (let i = start; i * step <= hi + step * 1e-9; i++) out.push(Math.round(i * step * 1e12) / 1e12);
  return out;
}

/** A domain padded out to round tick values (min==max widened). */
export function niceDomain(lo: number, hi: number, count = 5): [number, number] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi <= lo) {
    const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    return [lo - d, hi + d];
  }
  const ticks = niceTicks(lo, hi, count);
  const step = ticks.length > 1 ? ticks[1]! - ticks[0]! : hi - lo;
  const round = (v: number) => Math.round(v * 1e12) / 1e12;
  return [round(Math.floor(lo / step + 1e-9) * step), round(Math.ceil(hi / step - 1e-9) * step)];
}

export interface AxisSpec {
  label: string;
  domain: [number, number];
  ticks?: number[];
}

export interface LineSeries {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** Draw a circle at each point; radius per point (px). */
  markerRadius?: ArrayLike<number>;
  /** Extra text for each marker's tooltip. */
  markerTitle?: string[];
}

interface Frame {
  width: number;
  height: number;
  left: number;
  top: number;
  plotW: number;
  plotH: number;
  sx: (v: number) => number;
  sy: (v: number) => number;
}

const W = 440;
const PLOT_H = 260;
const M = { left: 58, right: 16, top: 14, bottom: 46 };
const LEGEND_ROW = 18;
const LEGEND_COL = 183;
const MAX_COLORS = 10;

function frame(x: AxisSpec, y: AxisSpec, legendItems: number): Frame {
  const perRow = Math.max(1, Math.floor((W - M.left - M.right) / LEGEND_COL));
  const legendRows = legendItems > 0 ? Math.ceil(legendItems / perRow) : 0;
  const plotW = W - M.left - M.right;
  const height = M.top + PLOT_H + M.bottom + legendRows * LEGEND_ROW + (legendRows ? 4 : 0);
  const [x0, x1] = x.domain;
  const [y0, y1] = y.domain;
  return {
    width: W,
    height,
    left: M.left,
    top: M.top,
    plotW,
    plotH: PLOT_H,
    sx: (v) => M.left + ((v - x0) / (x1 - x0 || 1)) * plotW,
    sy: (v) => M.top + PLOT_H - ((v - y0) / (y1 - y0 || 1)) * PLOT_H,
  };
}

function open(id: string, title: string, desc: string, f: Frame): string {
  return (
    `<svg id="${esc(id)}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${f.width} ${f.height}" width="${f.width}" height="${f.height}" role="img" aria-labelledby="${esc(id)}-title ${esc(id)}-desc">` +
    `<title id="${esc(id)}-title">${esc(title)}</title><desc id="${esc(id)}-desc">${esc(desc)}</desc>`
  );
}

function axes(f: Frame, x: AxisSpec, y: AxisSpec, opts: { xCategorical?: boolean } = {}): string {
  const xt = x.ticks ?? niceTicks(x.domain[0], x.domain[1]);
  const yt = y.ticks ?? niceTicks(y.domain[0], y.domain[1]);
  const bottom = f.top + f.plotH;
  const right = f.left + f.plotW;
  let s = '<g class="grid">';
  for (const t of yt) s += `<line x1="${c(f.left)}" x2="${c(right)}" y1="${c(f.sy(t))}" y2="${c(f.sy(t))}"/>`;
  if (!opts.xCategorical) for (const t of xt) s += `<line x1="${c(f.sx(t))}" x2="${c(f.sx(t))}" y1="${c(f.top)}" y2="${c(bottom)}"/>`;
  s += '</g><g class="axis">';
  s += `<line x1="${c(f.left)}" x2="${c(right)}" y1="${c(bottom)}" y2="${c(bottom)}"/>`;
  s += `<line x1="${c(f.left)}" x2="${c(f.left)}" y1="${c(f.top)}" y2="${c(bottom)}"/>`;
  for (const t of xt) s += `<line x1="${c(f.sx(t))}" x2="${c(f.sx(t))}" y1="${c(bottom)}" y2="${c(bottom + 4)}"/>`;
  for (const t of yt) s += `<line x1="${c(f.left - 4)}" x2="${c(f.left)}" y1="${c(f.sy(t))}" y2="${c(f.sy(t))}"/>`;
  s += '</g><g class="tick">';
  for (const t of xt) s += `<text x="${c(f.sx(t))}" y="${c(bottom + 16)}" text-anchor="middle">${esc(fmtTick(t))}</text>`;
  for (const t of yt) s += `<text x="${c(f.left - 7)}" y="${c(f.sy(t) + 3.5)}" text-anchor="end">${esc(fmtTick(t))}</text>`;
  s += '</g>';
  s += `<text class="axis-label" x="${c(f.left + f.plotW / 2)}" y="${c(bottom + 34)}" text-anchor="middle">${esc(x.label)}</text>`;
  s += `<text class="axis-label" transform="translate(14 ${c(f.top + f.plotH / 2)}) rotate(-90)" text-anchor="middle">${esc(y.label)}</text>`;
  return s;
}

function legend(f: Frame, names: string[], kind: 'line' | 'box'): string {
  if (names.length === 0) return '';
  const perRow = Math.max(1, Math.floor((W - M.left - M.right) / LEGEND_COL));
  const y0 = f.top + f.plotH + M.bottom + 2;
  let s = '<g class="legend">';
  names.forEach((name, i) => {
    const x = f.left + (i % perRow) * LEGEND_COL;
    const y = y0 + Math.floor(i / perRow) * LEGEND_ROW;
    const cls = `s${i % MAX_COLORS}`;
    s += `<g><title>${esc(name)}</title>`;
    s += kind === 'line' ? `<line class="series ${cls}" x1="${c(x)}" x2="${c(x + 16)}" y1="${c(y + 5)}" y2="${c(y + 5)}"/>` : `<rect class="box ${cls}" x="${c(x)}" y="${c(y)}" width="12" height="10"/>`;
    s += `<text x="${c(x + 21)}" y="${c(y + 9)}">${esc(truncate(name, 27))}</text></g>`;
  });
  return `${s}</g>`;
}

function clip(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/** Message drawn in the middle of an empty plot. */
function emptyNote(f: Frame, note: string): string {
  return `<text class="note" x="${c(f.left + f.plotW / 2)}" y="${c(f.top + f.plotH / 2)}" text-anchor="middle">${esc(note)}</text>`;
}

/** A line chart; `reference` adds a dashed y=x diagonal or a horizontal line. */
export function lineChart(opts: {
  id: string;
  title: string;
  desc: string;
  x: AxisSpec;
  y: AxisSpec;
  series: LineSeries[];
  reference?: { kind: 'diagonal' } | { y: number; label: string }[];
  emptyNote?: string;
}): string {
  const shown = opts.series.filter((s) => s.x.length > 0);
  const f = frame(opts.x, opts.y, opts.series.length > 1 || opts.reference ? opts.series.length : 0);
  let s = open(opts.id, opts.title, opts.desc, f) + axes(f, opts.x, opts.y);
  const [x0, x1] = opts.x.domain;
  const [y0, y1] = opts.y.domain;
  if (opts.reference && !Array.isArray(opts.reference)) {
    const lo = Math.max(x0, y0);
    const hi = Math.min(x1, y1);
    s += `<line class="ref" x1="${c(f.sx(lo))}" y1="${c(f.sy(lo))}" x2="${c(f.sx(hi))}" y2="${c(f.sy(hi))}"/>`;
  } else if (Array.isArray(opts.reference)) {
    opts.reference.forEach((r, i) => {
      const yy = f.sy(clip(r.y, y0, y1));
      s += `<line class="ref hued s${i % MAX_COLORS}" x1="${c(f.left)}" x2="${c(f.left + f.plotW)}" y1="${c(yy)}" y2="${c(yy)}"><title>${esc(r.label)}</title></line>`;
    });
  }
  opts.series.forEach((ser, i) => {
    if (ser.x.length === 0) return;
    const cls = `s${i % MAX_COLORS}`;
    let d = '';
    for (let k = 0; k < ser.x.length; k++) d += `${k === 0 ? 'M' : 'L'}${c(f.sx(clip(ser.x[k]!, x0, x1)))} ${c(f.sy(clip(ser.y[k]!, y0, y1)))}`;
    s += `<path class="series ${cls}" d="${d}"><title>${esc(ser.name)}</title></path>`;
    if (ser.markerRadius) {
      s += `<g class="markers ${cls}">`;
      for (let k = 0; k < ser.x.length; k++) {
        const tip = ser.markerTitle?.[k];
        s += `<circle cx="${c(f.sx(clip(ser.x[k]!, x0, x1)))}" cy="${c(f.sy(clip(ser.y[k]!, y0, y1)))}" r="${c(ser.markerRadius[k]!)}">${tip ? `<title>${esc(tip)}</title>` : ''}</circle>`;
      }
      s += '</g>';
    }
  });
  if (shown.length === 0 && opts.emptyNote) s += emptyNote(f, opts.emptyNote);
  if (opts.series.length > 1 || opts.reference) s += legend(f, opts.series.map((x) => x.name), 'line');
  return `${s}</svg>`;
}

/** A scatter plot (optional dashed y=x line). */
export function scatterChart(opts: { id: string; title: string; desc: string; x: AxisSpec; y: AxisSpec; xs: ArrayLike<number>; ys: ArrayLike<number>; diagonal?: boolean }): string {
  const f = frame(opts.x, opts.y, 0);
  let s = open(opts.id, opts.title, opts.desc, f) + axes(f, opts.x, opts.y);
  const [x0, x1] = opts.x.domain;
  const [y0, y1] = opts.y.domain;
  if (opts.diagonal) {
    const lo = Math.max(x0, y0);
    const hi = Math.min(x1, y1);
    if (hi > lo) s += `<line class="ref" x1="${c(f.sx(lo))}" y1="${c(f.sy(lo))}" x2="${c(f.sx(hi))}" y2="${c(f.sy(hi))}"/>`;
  }
  s += '<g class="dots s0">';
  for (let k = 0; k < opts.xs.length; k++) s += `<circle cx="${c(f.sx(clip(opts.xs[k]!, x0, x1)))}" cy="${c(f.sy(clip(opts.ys[k]!, y0, y1)))}" r="2"/>`;
  s += '</g>';
  if (opts.xs.length === 0) s += emptyNote(f, 'no points');
  return `${s}</svg>`;
}

/** Overlaid histograms sharing bin edges (one translucent step area per series). */
export function histogramChart(opts: { id: string; title: string; desc: string; xLabel: string; yLabel: string; edges: number[]; series: { name: string; counts: number[] }[] }): string {
  const { edges } = opts;
  const maxCount = Math.max(1, ...opts.series.flatMap((ser) => ser.counts));
  const x: AxisSpec = { label: opts.xLabel, domain: [edges[0] ?? 0, edges[edges.length - 1] ?? 1] };
  if (!(x.domain[1] > x.domain[0])) x.domain = [x.domain[0] - 0.5, x.domain[0] + 0.5];
  const yTicks = niceTicks(0, maxCount);
  const y: AxisSpec = { label: opts.yLabel, domain: [0, Math.max(maxCount, yTicks[yTicks.length - 1]!)], ticks: yTicks };
  const f = frame(x, y, opts.series.length > 1 ? opts.series.length : 0);
  let s = open(opts.id, opts.title, opts.desc, f) + axes(f, x, y);
  opts.series.forEach((ser, i) => {
    const cls = `s${i % MAX_COLORS}`;
    let d = `M${c(f.sx(edges[0]!))} ${c(f.sy(0))}`;
    for (let b = 0; b < ser.counts.length; b++) d += `L${c(f.sx(edges[b]!))} ${c(f.sy(ser.counts[b]!))}L${c(f.sx(edges[b + 1]!))} ${c(f.sy(ser.counts[b]!))}`;
    d += `L${c(f.sx(edges[edges.length - 1]!))} ${c(f.sy(0))}Z`;
    s += `<path class="area ${cls}" d="${d}"><title>${esc(ser.name)}</title></path>`;
  });
  if (opts.series.length > 1) s += legend(f, opts.series.map((ser) => ser.name), 'box');
  return `${s}</svg>`;
}

/** Horizontal bars, one per item, largest first as given; labels left of the bars. */
export function barChartH(opts: { id: string; title: string; desc: string; xLabel: string; items: { label: string; value: number; tip: string }[] }): string {
  const rowH = 18;
  const labelW = 150;
  const left = labelW + 8;
  const width = W;
  const plotW = width - left - M.right;
  const plotH = Math.max(1, opts.items.length) * rowH;
  const top = 8;
  const height = top + plotH + 44;
  const maxV = Math.max(0, ...opts.items.map((it) => it.value));
  const ticks = niceTicks(0, maxV > 0 ? maxV : 1, 4);
  const hi = Math.max(maxV, ticks[ticks.length - 1]!);
  const sx = (v: number) => left + (v / (hi || 1)) * plotW;
  let s =
    `<svg id="${esc(opts.id)}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="${esc(opts.id)}-title ${esc(opts.id)}-desc">` +
    `<title id="${esc(opts.id)}-title">${esc(opts.title)}</title><desc id="${esc(opts.id)}-desc">${esc(opts.desc)}</desc>`;
  s += '<g class="grid">';
  for (const t of ticks) s += `<line x1="${c(sx(t))}" x2="${c(sx(t))}" y1="${top}" y2="${c(top + plotH)}"/>`;
  s += '</g><g class="axis">';
  s += `<line x1="${left}" x2="${left}" y1="${top}" y2="${c(top + plotH)}"/>`;
  s += `<line x1="${left}" x2="${c(left + plotW)}" y1="${c(top + plotH)}" y2="${c(top + plotH)}"/>`;
  s += '</g><g class="tick">';
  for (const t of ticks) s += `<text x="${c(sx(t))}" y="${c(top + plotH + 15)}" text-anchor="middle">${esc(fmtTick(t))}</text>`;
  s += '</g>';
  s += `<text class="axis-label" x="${c(left + plotW / 2)}" y="${c(top + plotH + 34)}" text-anchor="middle">${esc(opts.xLabel)}</text>`;
  opts.items.forEach((it, i) => {
    const y = top + i * rowH;
    s += `<g class="bar-row"><title>${esc(it.tip)}</title>`;
    s += `<text class="bar-label" x="${left - 6}" y="${c(y + rowH / 2 + 4)}" text-anchor="end">${esc(truncate(it.label, 24))}</text>`;
    s += `<rect class="bar s0" x="${left}" y="${c(y + 3)}" width="${c(Math.max(0, sx(Math.max(0, it.value)) - left))}" height="${rowH - 6}"/></g>`;
  });
  if (opts.items.length === 0) s += `<text class="note" x="${c(left + plotW / 2)}" y="${c(top + 13)}" text-anchor="middle">no features</text>`;
  return `${s}</svg>`;
}

/** A labelled count matrix (rows: actual, columns: predicted); shading is the row share. */
export function heatmap(opts: { id: string; title: string; desc: string; labels: string[]; matrix: number[][] }): string {
  const n = opts.labels.length;
  const cell = Math.max(22, Math.min(64, Math.floor(300 / Math.max(1, n))));
  const labelW = 96;
  const left = labelW + 26;
  const top = 30;
  const width = Math.max(W, left + n * cell + 16);
  const height = top + n * cell + 60;
  let s =
    `<svg id="${esc(opts.id)}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="${esc(opts.id)}-title ${esc(opts.id)}-desc">` +
    `<title id="${esc(opts.id)}-title">${esc(opts.title)}</title><desc id="${esc(opts.id)}-desc">${esc(opts.desc)}</desc>`;
  const fontPx = cell >= 40 ? 12 : cell >= 30 ? 10 : 8;
  s += `<text class="axis-label" x="${c(left + (n * cell) / 2)}" y="14" text-anchor="middle">Predicted</text>`;
  s += `<text class="axis-label" transform="translate(12 ${c(top + (n * cell) / 2)}) rotate(-90)" text-anchor="middle">Actual</text>`;
  opts.labels.forEach((label, j) => {
    s += `<text class="tick" x="${c(left + j * cell + cell / 2)}" y="${c(top - 4)}" text-anchor="middle"><title>${esc(label)}</title>${esc(truncate(label, Math.max(3, Math.floor(cell / 7))))}</text>`;
    s += `<text class="tick" x="${c(left - 6)}" y="${c(top + j * cell + cell / 2 + 4)}" text-anchor="end"><title>${esc(label)}</title>${esc(truncate(label, 14))}</text>`;
  });
  for (let i = 0; i < n; i++) {
    const row = opts.matrix[i] ?? [];
    const total = row.reduce((a, b) => a + b, 0);
    for (let j = 0; j < n; j++) {
      const v = row[j] ?? 0;
      const share = total > 0 ? v / total : 0;
      const x = left + j * cell;
      const y = top + i * cell;
      const tip = `actual ${opts.labels[i]} → predicted ${opts.labels[j]}: ${v} (${fmtNum(share * 100, 3)}% of actual ${opts.labels[i]})`;
      s += `<g class="cell"><title>${esc(tip)}</title><rect class="cell-bg" x="${c(x)}" y="${c(y)}" width="${cell}" height="${cell}"/>`;
      s += `<rect class="heat" x="${c(x)}" y="${c(y)}" width="${cell}" height="${cell}" fill-opacity="${(Math.round(share * 1000) / 1000).toString()}"/>`;
      s += `<text class="${share > 0.55 ? 'cell-text strong' : 'cell-text'}" x="${c(x + cell / 2)}" y="${c(y + cell / 2 + fontPx / 3)}" text-anchor="middle" font-size="${fontPx}">${esc(fmtTick(v))}</text></g>`;
    }
  }
  s += `<text class="note" x="${left}" y="${c(top + n * cell + 20)}">shade = share of the actual class (row)</text>`;
  return `${s}</svg>`;
}
