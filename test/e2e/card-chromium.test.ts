// The model card in a real browser: Debian `chromium`, installed by scripts/ensure-chromium.sh
// (which this test runs itself when the browser is missing: apt-get as root or via password-less
// sudo), started headless by this test with --headless --no-sandbox --disable-gpu
// --disable-background-networking and a throwaway profile, and driven over the DevTools protocol
// through a pipe (test/helpers/chromium.ts). Cards come from real GBDT runs on sklearn's
// breast-cancer (binary), iris (multiclass) and diabetes (regression) data. Checks: no console
// errors or warnings, no uncaught exceptions, no browser log errors (CSP violations, failed
// loads), no request but the page itself, the expected SVG plots are present and drawn, the data
// and environment summaries are shown, a `<script>` feature name stays text, dark mode switches
// colours. Screenshots are kept in test-artifacts/ (git-ignored). The test SKIPS, with the reason
// in its name, only when Chromium is missing and cannot be installed here (no apt-get, no root).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CARD_PLOT_IDS, expectedPlotIds } from '../../src/evaluate/card-html.js';
import { buildCard, cardCurvesFromPredictions, writeCard, type CardInput, type CardJson, type CardTask } from '../../src/evaluate/card.js';
import { environmentSnapshot, gitInfo } from '../../src/lineage/environment.js';
import { sha256File } from '../../src/lineage/hash.js';
import { GBDT } from '../../src/models/gbdt.js';
import { HOSTILE_NAME } from '../helpers/card-fixtures.js';
import { Chromium, CHROMIUM, ensureChromium, pageProblems, type PageProblem } from '../helpers/chromium.js';
import { loadSklearnCsv, selectRows, type DenseData } from '../helpers/dense-data.js';
import { DATASETS, makeTemp, ROOT, rmTemp } from '../helpers/paths.js';

const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const browserCheck = ensureChromium();
if (browserCheck.installed) console.log(`[card-chromium] installed ${CHROMIUM} with scripts/ensure-chromium.sh`);
if (!browserCheck.available) console.warn(`[card-chromium] SKIPPED: ${browserCheck.reason}`);

const BREAST_CANCER_FEATURES = [
  'mean radius', 'mean texture', 'mean perimeter', 'mean area', 'mean smoothness', 'mean compactness', 'mean concavity', `${HOSTILE_NAME} mean concave points`,
  'mean symmetry', 'mean fractal dimension', 'radius error', 'texture error', 'perimeter error', 'area error', 'smoothness error', 'compactness error',
  'concavity error', 'concave points error', 'symmetry error', 'fractal dimension error', 'worst radius', 'worst texture', 'worst perimeter', 'worst area',
  'worst smoothness', 'worst compactness', 'worst concavity', 'worst concave points', 'worst symmetry', 'worst fractal dimension',
];

function loadDiabetes(): DenseData {
  const read = (f: string) => zlib.gunzipSync(fs.readFileSync(path.join(DATASETS, 'sklearn_small', f))).toString('utf8').trim().split('\n');
  const X = read('diabetes_data_raw.csv.gz').map((l) => l.trim().split(/\s+/).map(Number));
  const y = read('diabetes_target.csv.gz').map(Number);
  return { values: Float64Array.from(X.flat()), y: Float64Array.from(y), rows: X.length, cols: X[0]!.length };
}

interface Run {
  task: CardTask;
  file: string;
  features: string[];
  classes: string[];
  target: string;
  data: DenseData;
  options: ConstructorParameters<typeof GBDT>[0];
}

/** Trains a GBDT on 3/4 of the rows, predicts the rest, and writes the run's card into `dir`. */
async function cardFromRun(run: Run, dir: string): Promise<string> {
  const startedAt = new Date();
  const train = selectRows(run.data, (i) => i % 4 !== 0);
  const test = selectRows(run.data, (i) => i % 4 === 0);
  const X = (d: DenseData) => ({ values: d.values, rows: d.rows, cols: d.cols, featureNames: run.features });
  const model = await new GBDT({ ...run.options, numThreads: 2, seed: 42 }).fit(X(train), train.y);
  const pred = await model.predict(X(test));
  const modelFile = path.join(dir, 'model.json');
  await model.save(modelFile);
  const gain = model.featureImportance('gain');
  const splits = model.featureImportance('split');
  const K = run.classes.length;
  const plots =
    run.task === 'regression'
      ? cardCurvesFromPredictions({ task: 'regression', actual: test.y, predicted: pred })
      : run.task === 'binary'
        ? cardCurvesFromPredictions({ task: 'binary', classes: run.classes, labels: test.y, probabilities: pred })
        : cardCurvesFromPredictions({ task: 'multiclass', classes: run.classes, labels: test.y, probabilities: pred });
  const metrics: Record<string, number | null> = {};
  if (run.task === 'regression') {
    let se = 0;
    for (let i = 0; i < test.rows; i++) se += (test.y[i]! - pred[i]!) ** 2;
    metrics['test.rmse'] = Math.sqrt(se / test.rows);
  } else {
    const cm = plots.confusionMatrix!.matrix;
    metrics['test.accuracy'] = cm.reduce((a, r, i) => a + r[i]!, 0) / test.rows;
    if (run.task === 'binary') metrics['test.auc'] = plots.curves.roc![0]!.auc;
  }
  const classCounts = (d: DenseData) => (K ? Object.fromEntries(run.classes.map((c, k) => [c, d.y.filter((v) => v === k).length])) : null);
  const input: CardInput = {
    runId: `e2e-${run.task}`,
    startedAt,
    endedAt: new Date(),
    task: run.task,
    classes: run.classes,
    model: { kind: 'gbdt', objective: run.task, params: model.toJSON().params, bestIteration: model.bestIteration, modelHash: await sha256File(modelFile) },
    metrics,
    confusionMatrix: plots.confusionMatrix,
    curves: plots.curves,
    featureImportance: { measure: 'total gain', features: gain.map((g, i) => ({ name: g.feature, gain: g.importance, splits: splits[i]!.importance })) },
    data: {
      target: run.target,
      featureCount: run.features.length,
      evaluatedOn: 'test',
      splits: [
        { name: 'train', rows: train.rows, classCounts: classCounts(train) },
        { name: 'test', rows: test.rows, classCounts: classCounts(test) },
      ],
      datasets: [{ role: 'data', path: path.join(DATASETS, 'sklearn_small', run.file), sha256: await sha256File(path.join(DATASETS, 'sklearn_small', run.file)) }],
    },
    environment: await environmentSnapshot(),
    git: await gitInfo(),
    notes: plots.notes,
  };
  const { html } = await writeCard(dir, buildCard(input));
  return html;
}

interface PageReport {
  problems: PageProblem[];
  requests: string[];
  dialogs: number;
  plots: Record<string, { tag: string; width: number; height: number; shapes: number } | null>;
  scripts: number;
  background: string;
  importanceText: string;
  /** Visible text of the data and environment summary sections ('' when absent or hidden). */
  dataText: string;
  environmentText: string;
  ms: number;
}

describe.skipIf(!browserCheck.available)(`model card in headless Chromium${browserCheck.available ? '' : ` (SKIPPED: ${browserCheck.reason})`}`, () => {
  let browser: Chromium;
  const tmp = makeTemp('kiln-card-e2e-');
  const pages: Record<string, string> = {};

  beforeAll(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const runs: Run[] = [
      { task: 'binary', file: 'breast_cancer.csv', features: BREAST_CANCER_FEATURES, classes: ['malignant', 'benign'], target: 'diagnosis', data: loadSklearnCsv('breast_cancer.csv'), options: { objective: 'binary', nEstimators: 60, numLeaves: 15, learningRate: 0.1 } },
      { task: 'multiclass', file: 'iris.csv', features: ['sepal length (cm)', 'sepal width (cm)', 'petal length (cm)', 'petal width (cm)'], classes: ['setosa', 'versicolor', 'virginica'], target: 'species', data: loadSklearnCsv('iris.csv'), options: { objective: 'multiclass', nEstimators: 40, numLeaves: 7, minDataInLeaf: 5 } },
      { task: 'regression', file: 'diabetes_data_raw.csv.gz', features: ['age', 'sex', 'bmi', 'bp', 's1', 's2', 's3', 's4', 's5', 's6'], classes: [], target: 'progression', data: loadDiabetes(), options: { objective: 'regression', nEstimators: 80, numLeaves: 7, learningRate: 0.05 } },
    ];
    for (const run of runs) {
      const dir = path.join(tmp, run.task);
      fs.mkdirSync(dir, { recursive: true });
      pages[run.task] = await cardFromRun(run, dir);
    }
    const t0 = performance.now();
    browser = await Chromium.launch();
    for (const domain of ['Runtime', 'Log', 'Page', 'Network']) await browser.page(`${domain}.enable`);
    console.log(`[card-chromium] ${CHROMIUM} started in ${Math.round(performance.now() - t0)} ms`);
  });

  afterAll(async () => {
    await browser?.close();
    rmTemp(tmp);
  });

  /** Opens a card, collects what happened, keeps a full-page screenshot as test-artifacts/<shot>. */
  async function open(file: string, ids: string[], shot: string, scheme: 'light' | 'dark' = 'light'): Promise<PageReport> {
    const t0 = performance.now();
    await browser.page('Emulation.setEmulatedMedia', { features: [{ name: 'prefers-color-scheme', value: scheme }] });
    await browser.page('Emulation.setDeviceMetricsOverride', { width: 1280, height: 900, deviceScaleFactor: 1, mobile: false });
    const since = browser.events.length;
    const url = pathToFileURL(file).href;
    await browser.page('Page.navigate', { url });
    await browser.waitFor((e) => e.method === 'Page.loadEventFired' && e.sessionId === browser.sessionId, 20_000, `load of ${url}`, since);
    const plots = await browser.evaluate<PageReport['plots']>(`(() => {
      const out = {};
      for (const id of ${JSON.stringify(ids)}) {
        const el = document.getElementById(id);
        if (!el) { out[id] = null; continue; }
        const r = el.getBoundingClientRect();
        out[id] = { tag: el.tagName.toLowerCase(), width: r.width, height: r.height, shapes: el.querySelectorAll('path, line, rect, circle').length };
      }
      return out;
    })()`);
    const scripts = await browser.evaluate<number>('document.scripts.length');
    const background = await browser.evaluate<string>('getComputedStyle(document.documentElement).backgroundColor');
    const importanceText = await browser.evaluate<string>(`document.getElementById(${JSON.stringify(CARD_PLOT_IDS.importance)})?.textContent ?? ''`);
    const sectionText = (id: string) => browser.evaluate<string>(`(() => { const el = document.getElementById(${JSON.stringify(id)}); return el && el.getBoundingClientRect().height > 0 ? el.innerText : ''; })()`);
    const dataText = await sectionText('data');
    const environmentText = await sectionText('environment');
    const metrics = (await browser.page('Page.getLayoutMetrics')) as { cssContentSize: { height: number } };
    const height = Math.min(16_000, Math.ceil(metrics.cssContentSize.height));
    await browser.page('Emulation.setDeviceMetricsOverride', { width: 1280, height, deviceScaleFactor: 1, mobile: false });
    const png = (await browser.page('Page.captureScreenshot', { format: 'png' })) as { data: string };
    fs.writeFileSync(path.join(ARTIFACTS, shot), Buffer.from(png.data, 'base64'));
    const mine = browser.events.slice(since).filter((e) => e.sessionId === browser.sessionId);
    return {
      problems: pageProblems(browser.events, browser.sessionId, since),
      requests: mine.filter((e) => e.method === 'Network.requestWillBeSent').map((e) => String((e.params.request as { url: string }).url)),
      dialogs: mine.filter((e) => e.method === 'Page.javascriptDialogOpening').length,
      plots,
      scripts,
      background,
      importanceText,
      dataText,
      environmentText,
      ms: Math.round(performance.now() - t0),
    };
  }

  function expectClean(report: PageReport, file: string, ids: string[]): void {
    expect(report.problems, JSON.stringify(report.problems, null, 2)).toEqual([]);
    // data summary: splits with their row counts, the input file and its content hash
    const card = JSON.parse(fs.readFileSync(path.join(path.dirname(file), 'card.json'), 'utf8')) as CardJson;
    for (const sp of card.data.splits) expect(report.dataText).toMatch(new RegExp(`${sp.name}\\s+${sp.rows}\\b`));
    for (const d of card.data.datasets) expect(report.dataText).toContain(d.sha256!.slice(0, 12));
    // environment summary: node, CPU, SIMD level and the package versions
    expect(report.environmentText).toContain(process.version);
    expect(report.environmentText).toContain(card.environment.cpuModel);
    expect(report.environmentText).toContain(card.environment.simdLevel);
    expect(report.environmentText).toContain('@duckdb/node-api');
    expect(report.requests).toEqual([pathToFileURL(file).href]);
    expect(report.dialogs).toBe(0);
    expect(report.scripts).toBe(0);
    for (const id of ids) {
      const p = report.plots[id];
      expect(p, `plot #${id}`).not.toBeNull();
      expect(p!.tag, id).toBe('svg');
      expect(p!.width, id).toBeGreaterThan(200);
      expect(p!.height, id).toBeGreaterThan(100);
      expect(p!.shapes, id).toBeGreaterThan(5);
    }
  }

  it('binary card: no console errors, no network, every plot drawn, the <script> feature name is text; screenshot kept', async () => {
    const ids = expectedPlotIds('binary');
    const report = await open(pages.binary!, ids, 'card.png');
    expectClean(report, pages.binary!, ids);
    expect(report.importanceText).toContain('<script>alert("pwned")</script>');
    expect(report.background).toBe('rgb(255, 255, 255)');
    expect(fs.statSync(path.join(ARTIFACTS, 'card.png')).size).toBeGreaterThan(20_000);
    console.log(`[card-chromium] binary card checked in ${report.ms} ms`);
  });

  it('binary card in dark mode switches to the dark palette, still without errors', async () => {
    const ids = expectedPlotIds('binary');
    const report = await open(pages.binary!, ids, 'card-dark.png', 'dark');
    expectClean(report, pages.binary!, ids);
    expect(report.background).toBe('rgb(15, 18, 22)');
  });

  it('multiclass card: one-vs-rest curves, confusion matrix, no errors', async () => {
    const ids = expectedPlotIds('multiclass');
    const report = await open(pages.multiclass!, ids, 'card-multiclass.png');
    expectClean(report, pages.multiclass!, ids);
  });

  it('regression card: residuals and predicted-vs-actual, no ROC, no errors', async () => {
    const ids = expectedPlotIds('regression');
    const report = await open(pages.regression!, [...ids, CARD_PLOT_IDS.roc], 'card-regression.png');
    expect(report.plots[CARD_PLOT_IDS.roc]).toBeNull();
    delete report.plots[CARD_PLOT_IDS.roc];
    expectClean(report, pages.regression!, ids);
  });
});
