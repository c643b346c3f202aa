import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { KilnError } from '../../../bindings/errors.js';
import { CARD_PLOT_IDS, expectedPlotIds } from '../../../src/evaluate/card-html.js';
import { assertValidCard, buildCard, renderCardHtml, serializeCard, writeCard, type CardInput } from '../../../src/evaluate/card.js';
import { compileSchema } from '../../../src/validate/schema.js';
import { binaryCardInput, HOSTILE_NAME, multiclassCardInput, regressionCardInput } from '../../helpers/card-fixtures.js';
import { makeTemp, ROOT, rmTemp } from '../../helpers/paths.js';

const tmp = makeTemp('kiln-card-');
afterAll(() => rmTemp(tmp));

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KilnError);
    return (err as KilnError).code;
  }
  throw new Error('expected a KilnError');
}

/** The opening tags of <svg> elements in a page, by id. */
function svgIds(html: string): string[] {
  return [...html.matchAll(/<svg id="([^"]+)"/g)].map((m) => m[1]!);
}

const ALLOWED_TAGS = new Set('html head meta title style body header h1 h2 h3 p span dl dt dd nav a main section div table thead tbody tr th td code b ul li details summary figure figcaption footer svg desc g line path text rect circle'.split(' '));

/** Every start tag of the page: its name and attribute names (text is escaped, so a `<` always opens a real tag). */
function tags(html: string): { name: string; attrs: string[]; raw: string }[] {
  return [...html.matchAll(/<([a-zA-Z][a-zA-Z0-9]*)([^>]*)>/g)].map((m) => ({
    name: m[1]!.toLowerCase(),
    attrs: [...m[2]!.matchAll(/\s([a-zA-Z-:]+)=/g)].map((a) => a[1]!.toLowerCase()),
    raw: m[0],
  }));
}

/** Fails on any tag outside the card's vocabulary, any event-handler or src attribute, any non-fragment link. */
function expectOnlyCardMarkup(html: string): void {
  for (const t of tags(html)) {
    expect(ALLOWED_TAGS.has(t.name), t.raw).toBe(true);
    expect(t.attrs.filter((a) => a.startsWith('on') || a === 'src' || a === 'srcdoc' || a === 'xlink:href'), t.raw).toEqual([]);
    if (t.attrs.includes('href')) expect(t.raw, t.raw).toMatch(/href="#[a-z-]+"/);
  }
}

describe('buildCard and card.schema.json', () => {
  it('binary, multiclass and regression cards validate against the schema', () => {
    const { validate } = compileSchema('builtin:card', { allErrors: true });
    for (const input of [binaryCardInput(), multiclassCardInput(4), regressionCardInput()]) {
      const card = buildCard(input);
      expect(validate(card), JSON.stringify(validate.errors)).toBe(true);
      // card.json's text parses back to the same card and still validates.
      const back = JSON.parse(serializeCard(card));
      expect(back).toEqual(card);
      expect(validate(back)).toBe(true);
    }
  });

  it('normalises: typed arrays → arrays, non-finite metrics → null, keys sorted, importance by gain', () => {
    const card = buildCard(binaryCardInput());
    expect(card.metrics['test.undefined_metric']).toBeNull();
    expect(Object.keys(card.metrics)).toEqual([...Object.keys(card.metrics)].sort());
    expect(Object.keys(card.model.params)).toEqual(['learningRate', 'nEstimators', 'numLeaves', 'seed']);
    expect(card.featureImportance.features[0]!.name).toBe(HOSTILE_NAME);
    const gains = card.featureImportance.features.map((f) => f.gain);
    expect(gains).toEqual([...gains].sort((a, b) => b - a));
    expect(Array.isArray(card.curves.roc[0]!.fpr)).toBe(true);
    expect(card.kind).toBe('kiln.card');
    expect(card.version).toBe(1);
  });

  it('the same input in another key order gives byte-identical card.json and card.html', () => {
    const a = binaryCardInput();
    const b: CardInput = { ...a, metrics: Object.fromEntries(Object.entries(a.metrics!).reverse()), model: { ...a.model, params: Object.fromEntries(Object.entries(a.model.params!).reverse()) } };
    const ca = buildCard(a);
    const cb = buildCard(b);
    expect(serializeCard(cb)).toBe(serializeCard(ca));
    expect(renderCardHtml(cb)).toBe(renderCardHtml(ca));
  });

  it('rendering is deterministic: no clock inside (same bytes at another system time)', () => {
    const card = buildCard(binaryCardInput());
    const first = renderCardHtml(card);
    vi.useFakeTimers();
    try {
      vi.setSystemTime(new Date('2031-01-01T00:00:00Z'));
      expect(renderCardHtml(card)).toBe(first);
      expect(serializeCard(buildCard(binaryCardInput()))).toBe(serializeCard(card));
    } finally {
      vi.useRealTimers();
    }
  });

  it('inconsistent input is E_USAGE; a card the schema refuses is E_SCHEMA', () => {
    const good = binaryCardInput();
    expect(codeOf(() => buildCard({ ...good, classes: ['only'] }))).toBe('E_USAGE');
    expect(codeOf(() => buildCard({ ...good, confusionMatrix: { labels: ['a', 'b'], matrix: [[1, 2]] } }))).toBe('E_USAGE');
    expect(codeOf(() => buildCard({ ...good, curves: { roc: [{ label: 'x', fpr: [0, 1], tpr: [0] }] } }))).toBe('E_USAGE');
    expect(codeOf(() => buildCard({ ...good, curves: { roc: [{ label: 'x', fpr: [0, NaN], tpr: [0, 1] }] } }))).toBe('E_USAGE');
    expect(codeOf(() => buildCard({ ...good, featureImportance: { features: [{ name: 'f', gain: Infinity }] } }))).toBe('E_USAGE');
    expect(codeOf(() => buildCard({ ...good, startedAt: 'yesterday' }))).toBe('E_SCHEMA');
    expect(codeOf(() => buildCard({ ...good, model: { ...good.model, modelHash: 'not-a-hash' } }))).toBe('E_SCHEMA');
    expect(codeOf(() => assertValidCard({ ...buildCard(good), version: 2 }))).toBe('E_SCHEMA');
    expect(codeOf(() => assertValidCard({ ...buildCard(good), extra: 1 }))).toBe('E_SCHEMA');
  });

  it("the card schema's environment is the receipt schema's environment", () => {
    const card = JSON.parse(fs.readFileSync(path.join(ROOT, 'schemas/card.schema.json'), 'utf8'));
    const receipt = JSON.parse(fs.readFileSync(path.join(ROOT, 'schemas/receipt.schema.json'), 'utf8'));
    const strip = ({ description: _d, ...rest }: Record<string, unknown>) => rest;
    expect(strip(card.$defs.environment)).toEqual(strip(receipt.$defs.environment));
    expect(card.properties.git).toEqual(receipt.properties.git);
  });
});

describe('card.html', () => {
  it('binary: every plot is present, once, as inline SVG', () => {
    const html = renderCardHtml(buildCard(binaryCardInput()));
    const ids = svgIds(html);
    for (const id of expectedPlotIds('binary')) expect(ids.filter((x) => x === id), id).toHaveLength(1);
    expect(ids).not.toContain(CARD_PLOT_IDS.residuals);
    // Each plot has an accessible title and the ROC and reliability plots a dashed diagonal.
    for (const id of expectedPlotIds('binary')) expect(html).toContain(`<title id="${id}-title">`);
    for (const id of [CARD_PLOT_IDS.roc, CARD_PLOT_IDS.reliability]) {
      const svg = html.slice(html.indexOf(`<svg id="${id}"`), html.indexOf('</svg>', html.indexOf(`<svg id="${id}"`)));
      expect(svg).toMatch(/<line class="ref" x1="58" y1="274" x2="424" y2="14"\/>/);
      expect(svg).toContain('class="axis-label"');
      expect(svg).toContain('class="legend"');
    }
    // Sections: calibration, threshold, conformal, data, environment.
    for (const text of ['Calibration', 'Decision threshold', 'Conformal prediction', 'Splits and class balance', 'Test CPU &lt;model&gt;', 'KILN_THREADS', 'ds_123', 'isotonic']) expect(html).toContain(text);
    expect(html.split('<svg').length).toBe(html.split('</svg>').length);
  });

  it('escapes user strings: a <script> feature name stays text', () => {
    const card = buildCard(binaryCardInput());
    const html = renderCardHtml(card);
    expectOnlyCardMarkup(html);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toContain(HOSTILE_NAME);
    expect(html).toContain('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &#39;quotes&#39;');
    // Hostile text everywhere a user string goes: title, run id, class labels, split names, params, env values.
    const evil = '"><script>x()</script>';
    const input = binaryCardInput();
    const html2 = renderCardHtml(
      buildCard({
        ...input,
        title: evil,
        runId: evil,
        classes: [evil, `${evil}2`],
        metrics: { [evil]: 1 },
        model: { ...input.model, kind: evil, objective: evil, params: { [evil]: evil } },
        data: { ...input.data, target: evil, evaluatedOn: evil, splits: [{ name: evil, rows: 1, classCounts: { [evil]: 1 } }], datasets: [{ role: evil, path: evil, versionId: evil }] },
        calibration: { method: evil, before: { [evil]: 1 }, after: {} },
        threshold: { objective: evil, value: 0.5 },
        confusionMatrix: { labels: [evil, `${evil}2`], matrix: [[1, 0], [0, 1]] },
        environment: { ...input.environment, cpuModel: evil, env: { KILN_X: evil } },
        git: { commit: 'a'.repeat(40), branch: evil, dirty: true },
        notes: [evil],
      }),
    );
    expectOnlyCardMarkup(html2);
    expect(html2).not.toMatch(/<script/i);
    expect(html2).toContain('&quot;&gt;&lt;script&gt;x()&lt;/script&gt;');
  });

  it('is self-contained: no scripts, external resources or network URLs; CSP forbids them; light and dark styles', () => {
    for (const input of [binaryCardInput(), multiclassCardInput(), regressionCardInput()]) {
      const html = renderCardHtml(buildCard(input));
      expectOnlyCardMarkup(html);
      const style = html.slice(html.indexOf('<style>'), html.indexOf('</style>'));
      expect(style).not.toMatch(/@import|url\(|@font-face/i);
      const urls = [...html.matchAll(/https?:\/\/[^\s"'<)]+/g)].map((m) => m[0]);
      expect(new Set(urls)).toEqual(new Set(['http://www.w3.org/2000/svg']));
      expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'`);
      expect(html).toContain('@media (prefers-color-scheme:dark)');
      expect(html).toContain('<meta name="color-scheme" content="light dark">');
    }
  });

  it('multiclass: one-vs-rest ROC and PR curves per class; with more than 10 classes they are omitted with a note', () => {
    const html = renderCardHtml(buildCard(multiclassCardInput(3)));
    for (const id of expectedPlotIds('multiclass')) expect(svgIds(html)).toContain(id);
    const roc = html.slice(html.indexOf(`<svg id="${CARD_PLOT_IDS.roc}"`), html.indexOf('</svg>', html.indexOf(`<svg id="${CARD_PLOT_IDS.roc}"`)));
    expect(roc.match(/<path class="series/g)).toHaveLength(3);
    expect(roc).toContain('class_2 (AUC');
    const many = renderCardHtml(buildCard(multiclassCardInput(12)));
    expect(svgIds(many)).not.toContain(CARD_PLOT_IDS.roc);
    expect(svgIds(many)).not.toContain(CARD_PLOT_IDS.pr);
    expect(many).toContain('ROC and PR curves omitted: 12 classes');
    for (const id of [CARD_PLOT_IDS.reliability, CARD_PLOT_IDS.scoreHistogram, CARD_PLOT_IDS.confusion, CARD_PLOT_IDS.importance]) expect(svgIds(many)).toContain(id);
  });

  it('regression: residual histogram and predicted-vs-actual instead of ROC/PR', () => {
    const card = buildCard(regressionCardInput());
    const html = renderCardHtml(card);
    const ids = svgIds(html);
    expect(ids).toEqual(expect.arrayContaining(expectedPlotIds('regression')));
    for (const id of [CARD_PLOT_IDS.roc, CARD_PLOT_IDS.pr, CARD_PLOT_IDS.reliability, CARD_PLOT_IDS.confusion, CARD_PLOT_IDS.scoreHistogram]) expect(ids).not.toContain(id);
    const scatter = html.slice(html.indexOf(`<svg id="${CARD_PLOT_IDS.predictedVsActual}"`), html.indexOf('</svg>', html.indexOf(`<svg id="${CARD_PLOT_IDS.predictedVsActual}"`)));
    expect(scatter.match(/<circle /g)).toHaveLength(card.curves.predictedVsActual!.actual.length);
    expect(scatter).toContain('class="ref"');
    expect(html).toContain('prediction intervals');
  });

  it('a card without curves or importance still renders, with notes in place of the plots', () => {
    const input = binaryCardInput();
    const html = renderCardHtml(buildCard({ ...input, curves: {}, confusionMatrix: null, featureImportance: null, calibration: null, threshold: null, conformal: null, git: null }));
    expect(svgIds(html)).toEqual([]);
    expect(html).toContain('No ROC curve recorded.');
    expect(html).toContain('No feature importance recorded');
  });
});

describe('writeCard', () => {
  it('writes card.json and card.html atomically (no temp files left) and refuses an invalid card', async () => {
    const dir = path.join(tmp, 'run1');
    const card = buildCard(binaryCardInput());
    const out = await writeCard(dir, card);
    expect(out).toEqual({ json: path.join(dir, 'card.json'), html: path.join(dir, 'card.html') });
    expect(fs.readdirSync(dir).sort()).toEqual(['card.html', 'card.json']);
    expect(fs.readFileSync(out.json, 'utf8')).toBe(serializeCard(card));
    expect(fs.readFileSync(out.html, 'utf8')).toBe(renderCardHtml(card));
    const bad = path.join(tmp, 'run2');
    await expect(writeCard(bad, { ...card, task: 'ranking' } as never)).rejects.toMatchObject({ code: 'E_SCHEMA' });
    expect(fs.existsSync(bad)).toBe(false);
  });
});
