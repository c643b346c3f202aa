/**
 * Self-contained HTML drift report: a summary table and, per feature, the reference and current
 * histograms (proportions) side by side as inline SVG. No scripts, no external resources; every
 * name and label is HTML-escaped.
 */
import type { DriftReport, FeatureDriftResult } from './detector.js';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function fmt(x: number | undefined, digits = 4): string {
  if (x === undefined) return '–';
  if (x === 0) return '0';
  if (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e6) return x.toExponential(2);
  return x.toFixed(digits);
}

function binLabels(f: FeatureDriftResult): string[] {
  const h = f.histogram;
  if (h.categories) return h.categories;
  const e = h.edges ?? [];
  if (e.length === 0) return ['all'];
  const n = (x: number): string => fmt(x, 3);
  return e.map((x, i) => (i === 0 ? `≤ ${n(x)}` : `(${n(e[i - 1]!)}, ${n(x)}]`)).concat(`> ${n(e[e.length - 1]!)}`);
}

/** One feature's histogram as an inline SVG (reference and current proportions per bin). */
export function histogramSvg(f: FeatureDriftResult): string {
  const ref = f.histogram.reference;
  const cur = f.histogram.current;
  const rt = ref.reduce((s, x) => s + x, 0) || 1;
  const ct = cur.reduce((s, x) => s + x, 0) || 1;
  const rp = ref.map((x) => x / rt);
  const cp = cur.map((x) => x / ct);
  const max = Math.max(1e-12, ...rp, ...cp);
  const bins = ref.length;
  const W = Math.max(320, Math.min(900, bins * 36));
  const H = 160;
  const pad = 24;
  const bw = (W - 2 * pad) / Math.max(1, bins);
  const labels = binLabels(f);
  const bars: string[] = [];
  for (let i = 0; i < bins; i++) {
    const x = pad + i * bw;
    const hr = ((rp[i] ?? 0) / max) * (H - 2 * pad);
    const hc = ((cp[i] ?? 0) / max) * (H - 2 * pad);
    const title = escapeHtml(`${labels[i] ?? ''}: reference ${(100 * (rp[i] ?? 0)).toFixed(2)} %, current ${(100 * (cp[i] ?? 0)).toFixed(2)} %`);
    bars.push(
      `<g><title>${title}</title>` +
        `<rect x="${(x + bw * 0.1).toFixed(1)}" y="${(H - pad - hr).toFixed(1)}" width="${(bw * 0.4).toFixed(1)}" height="${hr.toFixed(1)}" fill="#4c78a8"/>` +
        `<rect x="${(x + bw * 0.5).toFixed(1)}" y="${(H - pad - hc).toFixed(1)}" width="${(bw * 0.4).toFixed(1)}" height="${hc.toFixed(1)}" fill="#f58518"/></g>`,
    );
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(`histogram of ${f.name}`)}">` +
    `<line x1="${pad}" y1="${H - pad}" x2="${W - pad}" y2="${H - pad}" stroke="#888"/>` +
    bars.join('') +
    `<text x="${pad}" y="14" font-size="11" fill="#4c78a8">■ reference</text><text x="${pad + 90}" y="14" font-size="11" fill="#f58518">■ current</text>` +
    `</svg>`
  );
}

function metricCells(f: FeatureDriftResult): string {
  const cell = (m: { pValue: number; pAdjusted: number; drifted: boolean } | undefined, effect: number | undefined): string =>
    m ? `<td class="${m.drifted ? 'bad' : ''}">${fmt(effect)}<br><small>p ${fmt(m.pValue)} · q ${fmt(m.pAdjusted)}</small></td>` : '<td>–</td>';
  return [cell(f.ks, f.ks?.statistic), cell(f.psi, f.psi?.value), cell(f.kl, f.kl?.value), cell(f.js, f.js?.value), cell(f.chi2, f.chi2?.cramersV)].join('');
}

/** The whole report as one HTML document. */
export function renderDriftHtml(report: DriftReport): string {
  const rows = report.features
    .map(
      (f) =>
        `<tr><td><a href="#f-${encodeURIComponent(f.name)}">${escapeHtml(f.name)}</a></td><td>${f.kind}${f.role !== 'feature' ? ` (${f.role})` : ''}</td>` +
        `<td class="${f.drifted ? 'bad' : 'ok'}">${f.drifted ? `drifted (${f.driftedBy.join(', ')})` : 'no drift'}</td>${metricCells(f)}</tr>`,
    )
    .join('\n');
  const sections = report.features
    .map(
      (f) =>
        `<section id="f-${escapeHtml(encodeURIComponent(f.name))}"><h3>${escapeHtml(f.name)} <small>${f.kind} · ${f.drifted ? '<span class="bad">drifted</span>' : 'no drift'}</small></h3>` +
        `<p>reference ${f.reference.count.toLocaleString('en-US')} values (${f.reference.missing.toLocaleString('en-US')} missing) · current ${f.current.count.toLocaleString('en-US')} values (${f.current.missing.toLocaleString('en-US')} missing)` +
        `${f.wasserstein ? ` · Wasserstein-1 ${fmt(f.wasserstein.value)}` : ''}</p>` +
        histogramSvg(f) +
        (f.notes.length ? `<ul>${f.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : '') +
        `</section>`,
    )
    .join('\n');
  const th = Object.entries(report.options.thresholds).map(([m, t]) => `${m} &gt; ${t}`).join(', ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kiln drift report</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
.bad{color:#b00020;font-weight:600}.ok{color:#2e7d32}small{color:#666}section{margin:24px 0}</style></head>
<body><h1>Drift report: ${report.drifted ? '<span class="bad">drift detected</span>' : '<span class="ok">no drift</span>'}</h1>
<p>reference <code>${escapeHtml(report.reference.source)}</code> (${report.reference.rows.toLocaleString('en-US')} rows) vs current <code>${escapeHtml(report.current.source)}</code> (${report.current.rows.toLocaleString('en-US')} rows) ·
${report.summary.drifted} of ${report.summary.features} columns drifted · a column drifts when its effect is above threshold (${th}) and its Benjamini–Hochberg adjusted p-value is ≤ ${report.options.alpha} ·
${report.options.nBins} reference-quantile bins · kiln ${escapeHtml(report.kilnVersion)} · ${escapeHtml(report.createdAt)}</p>
<table><thead><tr><th>column</th><th>kind</th><th>verdict</th><th>KS D</th><th>PSI</th><th>KL</th><th>JS</th><th>χ² (Cramér's V)</th></tr></thead><tbody>
${rows}
</tbody></table>
${sections}
</body></html>
`;
}
