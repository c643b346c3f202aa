import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isKilnError } from '../../../bindings/errors.js';
import { assertValidModel, parseModelText, serializeModel, type GbdtModelJson, type ModelJson } from '../../../src/models/format.js';
import { readLightGBMModel, importLightGBMText } from '../../../src/models/interop/lightgbm.js';
import {
  MAX_IMPORT_BYTES,
  writeXGBoostModel,
  exportXGBoostJson,
  readXGBoostModel,
  importXGBoostJson,
  xgboostCondition,
  xgboostJsonText,
} from '../../../src/models/interop/xgboost.js';
import { ROOT, makeTemp, rmTemp } from '../../helpers/paths.js';
import { referenceMargins, referencePredict, rowsFromFixture } from '../../helpers/tree-reference.js';

const XGB = path.join(ROOT, 'test/oracle/xgboost');
const LGB = path.join(ROOT, 'test/oracle/lightgbm');

interface XGBoostExpected {
  objective: string;
  rows: Array<Array<number | null>>;
  predict: number[] | number[][];
  margin: number[] | number[][];
}
interface LightGBMExpected {
  objective: string;
  rows: Array<Array<number | null>>;
  raw: number[] | number[][];
  predict: number[] | number[][];
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** Expected outputs as one array per row. */
function perRow(values: number[] | number[][]): number[][] {
  return values.map((v) => (Array.isArray(v) ? v : [v]));
}

/** Largest |a - b| over rows of reference outputs against expected ones. */
function maxAbsDiff(model: GbdtModelJson, rows: number[][], expected: number[][], margins = false): number {
  let worst = 0;
  rows.forEach((row, r) => {
    const got = margins ? referenceMargins(model, row) : referencePredict(model, row);
    expect(got.length).toBe(expected[r].length);
    got.forEach((g, k) => (worst = Math.max(worst, Math.abs(g - expected[r][k]))));
  });
  return worst;
}

/** Runs `fn` and returns the KilnError code it throws (fails the test on any other outcome). */
async function errorCode(fn: () => unknown): Promise<{ code: string; message: string }> {
  try {
    await fn();
  } catch (err) {
    if (!isKilnError(err)) throw err;
    return { code: err.code, message: err.message };
  }
  throw new Error('expected a KilnError, nothing was thrown');
}

function expectCanonicalRoundTrip(model: GbdtModelJson): void {
  const text = serializeModel(model as unknown as ModelJson);
  const again = assertValidModel(parseModelText(text), 'round trip');
  expect(serializeModel(again)).toBe(text);
}

let tmp: string;
beforeAll(() => {
  tmp = makeTemp('kiln-interop-');
});
afterAll(() => rmTemp(tmp));

describe('XGBoost import', () => {
  for (const name of ['binary', 'multiclass', 'regression']) {
    it(`${name}: reference predictions match XGBoost's within 1e-6, NaN rows included`, async () => {
      const model = await readXGBoostModel(path.join(XGB, `${name}.json`));
      const expected = readJson<XGBoostExpected>(path.join(XGB, `${name}.expected.json`));
      const rows = rowsFromFixture(expected.rows);
      expect(rows.some((row) => row.some(Number.isNaN))).toBe(true);
      expect(maxAbsDiff(model, rows, perRow(expected.predict))).toBeLessThan(1e-6);
      expect(maxAbsDiff(model, rows, perRow(expected.margin), true)).toBeLessThan(2e-6);
    });
  }

  it('keeps the source facts: objective, classes, feature names, lt decisions with NaN missing', async () => {
    const binary = await readXGBoostModel(path.join(XGB, 'binary.json'));
    expect(binary.objective).toEqual({ name: 'binary', numClass: 1 });
    expect(binary.origin).toBe('xgboost');
    expect(binary.decision).toBe('lt');
    expect(binary.features.map((f) => f.name)).toEqual(['x0', 'x1', 'x2', 'x3', 'x4', 'x5']);
    expect(binary.baseScore).toEqual([0]);
    expect(binary.numIterations).toBe(20);
    expect(binary.bestIteration).toBe(20);
    expect(binary.binMapper).toBeNull();
    expect(binary.training).toBeNull();
    expect(binary.params.source).toMatchObject({ format: 'xgboost-json', xgboostVersion: '1.7.4', objective: 'binary:logistic' });
    for (const tree of binary.trees) {
      expect(tree.splitFeature.length).toBe(tree.numLeaves - 1);
      for (const d of tree.decisionType) expect(d & ~2).toBe(8);
      for (const v of [...tree.threshold, ...tree.leafValue]) expect(Math.fround(v)).toBe(v);
    }

    const multi = await readXGBoostModel(path.join(XGB, 'multiclass.json'));
    expect(multi.objective).toEqual({ name: 'multiclass', numClass: 3 });
    expect(multi.numTreesPerIteration).toBe(3);
    expect(multi.trees.length).toBe(36);
    expect(multi.baseScore).toEqual([0.5, 0.5, 0.5]);
    expect(multi.features.map((f) => f.name)).toEqual(['f0', 'f1', 'f2', 'f3', 'f4', 'f5']);

    const reg = await readXGBoostModel(path.join(XGB, 'regression.json'));
    expect(reg.objective).toEqual({ name: 'regression', numClass: 1 });
    expect(reg.baseScore).toEqual([0.5]);
    expect(reg.trees[0].internalCount[0]).toBe(800); // squared error: the hessian cover is the row count
  });

  it('imported models validate and serialize byte-identically after a reload', async () => {
    for (const name of ['binary', 'multiclass', 'regression']) {
      const model = await readXGBoostModel(path.join(XGB, `${name}.json`));
      assertValidModel(model, name);
      expectCanonicalRoundTrip(model);
    }
  });

  it('regroups trees by class when tree_info is not in round-robin order, and reads multi:softmax as probabilities', () => {
    const doc = readJson<any>(path.join(XGB, 'multiclass.json'));
    const expected = readJson<XGBoostExpected>(path.join(XGB, 'multiclass.expected.json'));
    const gb = doc.learner.gradient_booster.model;
    const order = gb.trees.map((_: unknown, i: number) => i).sort((a: number, b: number) => (gb.tree_info[a] - gb.tree_info[b]) || a - b);
    gb.trees = order.map((i: number) => gb.trees[i]);
    gb.tree_info = order.map((i: number) => gb.tree_info[i]);
    doc.learner.objective.name = 'multi:softmax';
    const model = importXGBoostJson(doc, 'shuffled');
    expect(model.objective.name).toBe('multiclass');
    expect(maxAbsDiff(model, rowsFromFixture(expected.rows), perRow(expected.predict))).toBeLessThan(1e-6);
  });

  it('imports a single-leaf tree and a binary base_score other than 0.5', () => {
    const doc = readJson<any>(path.join(XGB, 'binary.json'));
    doc.learner.learner_model_param.base_score = '2.5E-1';
    doc.learner.gradient_booster.model.trees[1] = {
      ...doc.learner.gradient_booster.model.trees[1],
      left_children: [-1], right_children: [-1], split_indices: [0], split_conditions: [0.125], default_left: [0],
      loss_changes: [0], sum_hessian: [10.4], base_weights: [0.125], parents: [2147483647], split_type: [0],
      tree_param: { num_deleted: '0', num_feature: '6', num_nodes: '1', size_leaf_vector: '0' },
    };
    const model = importXGBoostJson(doc);
    expect(model.trees[1]).toMatchObject({ numLeaves: 1, splitFeature: [], leafValue: [0.125], leafCount: [10] });
    expect(model.baseScore[0]).toBeCloseTo(Math.log(1 / 3), 7);
    assertValidModel(model);
  });
});

describe('LightGBM import', () => {
  for (const name of ['binary', 'multiclass', 'regression', 'huber']) {
    it(`${name}: reference predictions match the LightGBM evaluator within 1e-9`, async () => {
      const model = await readLightGBMModel(path.join(LGB, `${name}.txt`));
      const expected = readJson<LightGBMExpected>(path.join(LGB, `${name}.expected.json`));
      const rows = rowsFromFixture(expected.rows);
      expect(maxAbsDiff(model, rows, perRow(expected.predict))).toBeLessThan(1e-9);
      expect(maxAbsDiff(model, rows, perRow(expected.raw), true)).toBeLessThan(1e-9);
      assertValidModel(model, name);
      expectCanonicalRoundTrip(model);
    });
  }

  it('maps categorical splits to identity-coded categorical features with unseen values routed as missing', async () => {
    const model = await readLightGBMModel(path.join(LGB, 'binary.txt'));
    expect(model.origin).toBe('lightgbm');
    expect(model.decision).toBe('le');
    expect(model.baseScore).toEqual([0]);
    expect(model.features.map((f) => [f.name, f.type])).toEqual([['x0', 'numeric'], ['x1', 'numeric'], ['x2', 'numeric'], ['cat_a', 'categorical'], ['cat_b', 'categorical']]);
    expect(model.features[3]).toMatchObject({ categories: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], unseen: 'missing' });
    expect(model.features[4].categories).toEqual(Array.from({ length: 41 }, (_, i) => i));
    expect(model.trees[0].catSets).toEqual([[1, 3, 7]]);
    expect(model.trees[1].catSets).toEqual([[2, 33, 40]]);
    expect(model.trees[4].catSets).toEqual([[0, 1, 31, 32]]);
    expect(model.trees[0].decisionType).toEqual([10, 9, 0, 4]);
    expect(model.trees[1].decisionType).toEqual([6, 9, 8]);
    expect(model.trees[2]).toMatchObject({ numLeaves: 1, splitFeature: [], leafValue: [0.0131] });
    expect(model.params.source).toMatchObject({ format: 'lightgbm-text', lightgbmVersion: 'v3', objective: 'binary sigmoid:1' });
    expect((model.params.source as { parameters: Record<string, string> }).parameters.categorical_feature).toBe('3,4');
  });

  it('reads multiclass and huber headers', async () => {
    const multi = await readLightGBMModel(path.join(LGB, 'multiclass.txt'));
    expect(multi.objective).toEqual({ name: 'multiclass', numClass: 3 });
    expect([multi.numTreesPerIteration, multi.numIterations, multi.bestIteration]).toEqual([3, 4, 4]);
    const huber = await readLightGBMModel(path.join(LGB, 'huber.txt'));
    expect(huber.objective).toEqual({ name: 'huber', numClass: 1, huberDelta: 1.5 });
    const inline = importLightGBMText(fs.readFileSync(path.join(LGB, 'huber.txt'), 'utf8').replace('objective=huber', 'objective=huber alpha:2'));
    expect(inline.objective.huberDelta).toBe(2);
  });

  it('applies a sigmoid other than 1 by scaling leaf values', () => {
    const text = fs.readFileSync(path.join(LGB, 'binary.txt'), 'utf8').replace('objective=binary sigmoid:1', 'objective=binary sigmoid:0.5');
    const model = importLightGBMText(text);
    const expected = readJson<LightGBMExpected>(path.join(LGB, 'binary.expected.json'));
    const rows = rowsFromFixture(expected.rows);
    const probabilities = (expected.raw as number[]).map((raw) => [1 / (1 + Math.exp(-0.5 * raw))]);
    expect(maxAbsDiff(model, rows, probabilities)).toBeLessThan(1e-12);
    expect(model.params.source).toMatchObject({ leafValuesScaledBySigmoid: 0.5 });
  });

  it('reads v4 files, CRLF line ends, files without the optional sections and a huge threshold as Infinity', () => {
    const text = fs.readFileSync(path.join(LGB, 'regression.txt'), 'utf8');
    const expected = readJson<LightGBMExpected>(path.join(LGB, 'regression.expected.json'));
    const rows = rowsFromFixture(expected.rows);
    const v4 = importLightGBMText(text.replace('version=v3', 'version=v4').replace(/\n/g, '\r\n'));
    expect(maxAbsDiff(v4, rows, perRow(expected.predict))).toBeLessThan(1e-9);
    const bare = importLightGBMText(text.slice(0, text.indexOf('end of trees') + 'end of trees\n'.length));
    expect(maxAbsDiff(bare, rows, perRow(expected.predict))).toBeLessThan(1e-9);
    const huge = importLightGBMText(text.replace('threshold=-1.0000000000000002\n', 'threshold=1e999\n'));
    expect(huge.trees[1].threshold[0]).toBe(Infinity);
    expectCanonicalRoundTrip(huge);
    expect(serializeModel(huge as unknown as ModelJson)).toContain('"Infinity"');
  });
});

describe('XGBoost export', () => {
  const exported = path.join(XGB, 'exported');
  const sources: Record<string, () => Promise<GbdtModelJson>> = {
    'xgb-binary': () => readXGBoostModel(path.join(XGB, 'binary.json')),
    'xgb-multiclass': () => readXGBoostModel(path.join(XGB, 'multiclass.json')),
    'xgb-regression': () => readXGBoostModel(path.join(XGB, 'regression.json')),
    'lgb-multiclass': () => readLightGBMModel(path.join(LGB, 'multiclass.txt')),
    'lgb-regression': () => readLightGBMModel(path.join(LGB, 'regression.txt')),
  };

  for (const [name, load] of Object.entries(sources)) {
    it(`${name}: the export is the committed file and XGBoost's predictions of it match kiln's`, async () => {
      const model = await load();
      const text = xgboostJsonText(exportXGBoostJson(model));
      expect(text).toBe(fs.readFileSync(path.join(exported, `${name}.json`), 'utf8'));
      const xgb = readJson<XGBoostExpected>(path.join(exported, `${name}.predictions.json`));
      const rows = rowsFromFixture(xgb.rows);
      expect(maxAbsDiff(model, rows, perRow(xgb.predict))).toBeLessThan(1e-6);
    });
  }

  it('round trip XGBoost -> kiln -> XGBoost predicts exactly what the original predicted', () => {
    for (const name of ['binary', 'multiclass', 'regression']) {
      const original = readJson<XGBoostExpected>(path.join(XGB, `${name}.expected.json`));
      const again = readJson<XGBoostExpected>(path.join(exported, `xgb-${name}.predictions.json`));
      expect(again.predict).toEqual(original.predict);
      expect(again.margin).toEqual(original.margin);
    }
  });

  it('le thresholds become lt conditions that decide every float32 input the same way', () => {
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const f32 = new Float32Array(1);
    const bits = new Uint32Array(f32.buffer);
    const mismatches: string[] = [];
    for (let i = 0; i < 20000; i++) {
      const t = (random() - 0.5) * 10 ** Math.floor(random() * 12 - 6);
      const x = Math.fround(i % 3 === 0 ? t : t * (1 + (random() - 0.5) * 1e-6));
      const le = xgboostCondition(t, 'le');
      const lt = xgboostCondition(t, 'lt');
      for (const probe of [x, Math.fround(t)]) {
        f32[0] = probe;
        for (const delta of [-1, 0, 1]) {
          bits[0] += delta;
          const v = f32[0];
          if (v < le !== v <= t || v < lt !== v < t) mismatches.push(`t=${t} x=${v}`);
          bits[0] -= delta;
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(xgboostCondition(0, 'le')).toBe(2 ** -149);
    expect(xgboostCondition(-0, 'le')).toBe(2 ** -149);
    expect(xgboostCondition(0.5, 'lt')).toBe(0.5);
    expect(xgboostCondition(0.5, 'le')).toBe(0.5 + 2 ** -24);
    expect(xgboostCondition(0.1, 'lt')).toBe(Math.fround(0.1));
    expect(xgboostCondition(0.1, 'le')).toBe(Math.fround(0.1));
    expect(xgboostCondition(-Infinity, 'le')).toBe(-3.4028234663852886e38);
    expect(xgboostCondition(1e39, 'le')).toBe(Infinity);
  });

  it('writes the file atomically with float fields as float tokens', async () => {
    const model = await readLightGBMModel(path.join(LGB, 'regression.txt'));
    const file = path.join(tmp, 'out/model.xgb.json');
    await writeXGBoostModel(model, file);
    const text = fs.readFileSync(file, 'utf8');
    expect(text).toBe(xgboostJsonText(exportXGBoostJson(model)));
    expect(text).toMatch(/"sum_hessian":\[500\.0,/);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['model.xgb.json']);
  });

  it('folds per-class base scores into the first trees and writes served trees only', async () => {
    const model = await readLightGBMModel(path.join(LGB, 'multiclass.txt'));
    const shifted: GbdtModelJson = { ...model, baseScore: [0.25, -0.5, 1], bestIteration: 2 };
    const doc = exportXGBoostJson(shifted) as any;
    expect(doc.learner.gradient_booster.model.trees.length).toBe(6);
    expect(doc.learner.learner_model_param.base_score).toBe('0E0');
    const reimported = importXGBoostJson(JSON.parse(xgboostJsonText(doc)));
    const expected = readJson<LightGBMExpected>(path.join(LGB, 'multiclass.expected.json'));
    for (const row of rowsFromFixture(expected.rows).map((r) => r.map(Math.fround)).slice(0, 40)) {
      const want = referenceMargins(shifted, row);
      referenceMargins(reimported, row).forEach((m, k) => expect(m).toBeCloseTo(want[k], 5));
    }
  });

  it('refuses what XGBoost cannot express', async () => {
    const categorical = await readLightGBMModel(path.join(LGB, 'binary.txt'));
    expect(await errorCode(() => exportXGBoostJson(categorical))).toMatchObject({ code: 'E_MODEL_FORMAT', message: expect.stringContaining('categorical') });
    const huber = await readLightGBMModel(path.join(LGB, 'huber.txt'));
    expect(await errorCode(() => exportXGBoostJson(huber))).toMatchObject({ code: 'E_MODEL_FORMAT', message: expect.stringContaining('huber') });
    const regression = await readLightGBMModel(path.join(LGB, 'regression.txt'));
    const zeroMissing = structuredClone(regression);
    zeroMissing.trees[1].decisionType[0] = 4;
    expect(await errorCode(() => exportXGBoostJson(zeroMissing))).toMatchObject({ code: 'E_MODEL_FORMAT', message: expect.stringContaining('missing type 1') });
    const outOfRange = structuredClone(regression);
    outOfRange.trees[1].threshold[0] = 1e39;
    expect(await errorCode(() => exportXGBoostJson(outOfRange))).toMatchObject({ code: 'E_MODEL_FORMAT', message: expect.stringContaining('float32') });
    const invalid = { ...regression, trees: 'nope' } as unknown as GbdtModelJson;
    expect((await errorCode(() => exportXGBoostJson(invalid))).code).toBe('E_MODEL_FORMAT');
    expect((await errorCode(() => writeXGBoostModel(categorical, path.join(tmp, 'never.json')))).code).toBe('E_MODEL_FORMAT');
    expect(fs.existsSync(path.join(tmp, 'never.json'))).toBe(false);
  });

  const python = '/usr/bin/python3';
  const hasXGBoost = fs.existsSync(python) && spawnSync(python, ['-c', 'import xgboost'], { stdio: 'ignore' }).status === 0;
  it.skipIf(!hasXGBoost)('XGBoost loads a fresh export and predicts like the reference evaluator (needs python3-xgboost)', async () => {
    const model = await readLightGBMModel(path.join(LGB, 'multiclass.txt'));
    const file = path.join(tmp, 'live.json');
    await writeXGBoostModel(model, file);
    const expected = readJson<LightGBMExpected>(path.join(LGB, 'multiclass.expected.json'));
    const rows = rowsFromFixture(expected.rows).map((r) => r.map(Math.fround));
    const script = [
      'import json, sys, numpy as np, xgboost as xgb',
      'b = xgb.Booster(model_file=sys.argv[1])',
      'X = np.array(json.loads(sys.stdin.read()), dtype=np.float32)',
      'print(json.dumps(b.predict(xgb.DMatrix(X, missing=np.nan, feature_names=b.feature_names)).astype(float).tolist()))',
    ].join('\n');
    const run = spawnSync(python, ['-c', script, file], { input: JSON.stringify(rows.map((r) => r.map((v) => (Number.isNaN(v) ? null : v)))).replace(/null/g, 'NaN'), encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(maxAbsDiff(model, rows, JSON.parse(run.stdout) as number[][])).toBeLessThan(2e-6);
  });
});

describe('XGBoost import refuses bad files with E_MODEL_FORMAT or E_IO', () => {
  const binaryText = fs.readFileSync(path.join(XGB, 'binary.json'), 'utf8');
  const fresh = (): any => JSON.parse(binaryText);
  const write = (name: string, data: string | Buffer): string => {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, data);
    return file;
  };
  const tree0 = (doc: any): any => doc.learner.gradient_booster.model.trees[0];

  it('a missing file or a folder is E_IO naming the path', async () => {
    const missing = path.join(tmp, 'nope.json');
    expect(await errorCode(() => readXGBoostModel(missing))).toMatchObject({ code: 'E_IO', message: expect.stringContaining(missing) });
    expect(await errorCode(() => readXGBoostModel(tmp))).toMatchObject({ code: 'E_IO', message: expect.stringContaining('not a file') });
  });

  it('non-JSON, truncated, binary and oversized files are E_MODEL_FORMAT', async () => {
    expect(await errorCode(() => readXGBoostModel(write('text.json', 'tree\nversion=v3\n')))).toMatchObject({ code: 'E_MODEL_FORMAT', message: expect.stringContaining('not valid JSON') });
    expect(await errorCode(() => readXGBoostModel(write('cut.json', binaryText.slice(0, binaryText.length / 2))))).toMatchObject({ code: 'E_MODEL_FORMAT' });
    expect(await errorCode(() => readXGBoostModel(write('bytes.ubj', Buffer.from([0x7b, 0xff, 0xfe, 0x00, 0x80]))))).toMatchObject({ code: 'E_MODEL_FORMAT', message: expect.stringContaining('UTF-8') });
    const big = path.join(tmp, 'big.json');
    fs.writeFileSync(big, '');
    fs.truncateSync(big, MAX_IMPORT_BYTES + 1);
    expect(await errorCode(() => readXGBoostModel(big))).toMatchObject({ code: 'E_MODEL_FORMAT', message: expect.stringContaining('import limit') });
  });

  const cases: Array<[string, (doc: any) => unknown, string]> = [
    ['a JSON array', () => [], 'not an object'],
    ['a kiln model', () => ({ format: 'kiln.model' }), 'no "learner"'],
    ['no gradient_booster', (d) => (delete d.learner.gradient_booster, d), 'learner.gradient_booster is missing'],
    ['a dart booster', (d) => ({ ...d, learner: { ...d.learner, gradient_booster: { name: 'dart', gbtree: d.learner.gradient_booster, weight_drop: [1] } } }), 'dart'],
    ['a gblinear booster', (d) => ((d.learner.gradient_booster = { name: 'gblinear', model: { weights: [0.1] } }), d), 'gblinear'],
    ['objective reg:logistic', (d) => ((d.learner.objective.name = 'reg:logistic'), d), 'objective "reg:logistic" is not supported'],
    ['objective binary:logitraw', (d) => ((d.learner.objective.name = 'binary:logitraw'), d), 'not supported'],
    ['objective rank:pairwise', (d) => ((d.learner.objective.name = 'rank:pairwise'), d), 'not supported'],
    ['categorical splits', (d) => ((tree0(d).split_type[0] = 1), d), 'categorical splits are not supported'],
    ['categorical nodes', (d) => ((tree0(d).categories_nodes = [0]), d), 'categorical splits are not supported'],
    ['a leaf value beyond float32', (d) => ((tree0(d).split_conditions[tree0(d).left_children.indexOf(-1)] = 1e39), d), 'outside the float32 range'],
    ['an overflowing leaf value', (d) => ((tree0(d).split_conditions[tree0(d).left_children.indexOf(-1)] = Infinity), d), 'split_conditions'],
    ['a huge child index', (d) => ((tree0(d).left_children[0] = 1e20), d), 'left_children[0]'],
    ['a fractional split index', (d) => ((tree0(d).split_indices[0] = 0.5), d), 'split_indices[0]'],
    ['a split feature out of range', (d) => ((tree0(d).split_indices[0] = 6), d), 'but the model has 6 features'],
    ['no split_conditions', (d) => (delete tree0(d).split_conditions, d), 'split_conditions is missing'],
    ['a short default_left', (d) => (tree0(d).default_left.pop(), d), 'default_left has'],
    ['a default_left of 2', (d) => ((tree0(d).default_left[0] = 2), d), 'expected 0 or 1'],
    ['a cycle', (d) => ((tree0(d).left_children[tree0(d).left_children[0]] = 0), d), 'root'],
    ['a node reached twice', (d) => ((tree0(d).right_children[0] = tree0(d).left_children[0]), d), 'reached twice'],
    ['a lone left child', (d) => ((tree0(d).right_children[0] = -1), d), 'no right child'],
    ['tree_info of the wrong length', (d) => (d.learner.gradient_booster.model.tree_info.pop(), d), 'tree_info has'],
    ['a tree_info class out of range', (d) => ((d.learner.gradient_booster.model.tree_info[0] = 1), d), 'tree_info[0]'],
    ['fewer trees than num_trees (truncated)', (d) => (d.learner.gradient_booster.model.trees.pop(), d.learner.gradient_booster.model.tree_info.pop(), d), 'truncated'],
    ['a string base_score', (d) => ((d.learner.learner_model_param.base_score = 'abc'), d), 'base_score'],
    ['a base_score of 1 for binary:logistic', (d) => ((d.learner.learner_model_param.base_score = '1'), d), 'probability'],
    ['a huge num_feature', (d) => ((d.learner.learner_model_param.num_feature = '1e12'), d), 'num_feature'],
    ['feature names of the wrong count', (d) => (d.learner.feature_names.pop(), d), 'feature_names has 5 names'],
    ['duplicate feature names', (d) => ((d.learner.feature_names[1] = 'x0'), d), 'twice'],
    ['a multi-output model', (d) => ((d.learner.learner_model_param.num_target = '2'), d), 'multi-output'],
    ['multi:softprob without num_class', (d) => ((d.learner.objective.name = 'multi:softprob'), d), 'num_class >= 2'],
    ['a tree that is a number', (d) => ((d.learner.gradient_booster.model.trees[3] = 7), d), 'trees[3] is missing or not an object'],
    ['an empty tree', (d) => (Object.assign(tree0(d), { left_children: [], tree_param: {} }), d), 'has no nodes'],
  ];
  for (const [what, mutate, message] of cases) {
    it(`refuses ${what}`, () => {
      let thrown: unknown;
      try {
        importXGBoostJson(mutate(fresh()), 'bad.json');
      } catch (err) {
        thrown = err;
      }
      expect(isKilnError(thrown), String(thrown)).toBe(true);
      expect(thrown).toMatchObject({ code: 'E_MODEL_FORMAT', message: expect.stringContaining(message) });
      expect((thrown as Error).message).toMatch(/^bad\.json: /);
    });
  }

  it('never crashes on random field damage: either a valid model or E_MODEL_FORMAT', () => {
    const junk: unknown[] = [null, -1, 0, 1.5, 1e308, -1e308, 'x', '', [], {}, true, [1, 2], [-1, -1, -1]];
    let seed = 99;
    const pick = (n: number): number => {
      seed = (seed * 16807) % 2147483647;
      return seed % n;
    };
    const paths: Array<Array<string | number>> = [];
    const walk = (v: unknown, at: Array<string | number>): void => {
      paths.push(at);
      if (Array.isArray(v)) v.slice(0, 4).forEach((x, i) => walk(x, [...at, i]));
      else if (v !== null && typeof v === 'object') Object.entries(v).forEach(([k, x]) => walk(x, [...at, k]));
    };
    walk(JSON.parse(binaryText), []);
    let refused = 0;
    for (let i = 0; i < 400; i++) {
      const doc = fresh();
      const at = paths[1 + pick(paths.length - 1)];
      let parent = doc;
      for (const key of at.slice(0, -1)) parent = parent[key];
      parent[at[at.length - 1]] = junk[pick(junk.length)];
      try {
        assertValidModel(importXGBoostJson(doc, 'fuzz'));
      } catch (err) {
        expect(isKilnError(err) && err.code === 'E_MODEL_FORMAT', `${at.join('.')}: ${String(err)}`).toBe(true);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(100);
  });
});

describe('LightGBM import refuses bad files with E_MODEL_FORMAT or E_IO', () => {
  const binaryText = fs.readFileSync(path.join(LGB, 'binary.txt'), 'utf8');
  const regressionText = fs.readFileSync(path.join(LGB, 'regression.txt'), 'utf8');

  it('a missing file is E_IO; empty, foreign and truncated files are E_MODEL_FORMAT', async () => {
    const missing = path.join(tmp, 'nope.txt');
    expect(await errorCode(() => readLightGBMModel(missing))).toMatchObject({ code: 'E_IO', message: expect.stringContaining(missing) });
    const empty = path.join(tmp, 'empty.txt');
    fs.writeFileSync(empty, '');
    expect(await errorCode(() => readLightGBMModel(empty))).toMatchObject({ code: 'E_MODEL_FORMAT', message: expect.stringContaining('not a LightGBM text model') });
    const json = path.join(tmp, 'model.json');
    fs.copyFileSync(path.join(XGB, 'binary.json'), json);
    expect(await errorCode(() => readLightGBMModel(json))).toMatchObject({ code: 'E_MODEL_FORMAT', message: expect.stringContaining('expected "tree"') });
    const cut = path.join(tmp, 'cut.txt');
    fs.writeFileSync(cut, binaryText.slice(0, binaryText.indexOf('Tree=3')));
    expect(await errorCode(() => readLightGBMModel(cut))).toMatchObject({ code: 'E_MODEL_FORMAT', message: expect.stringContaining('no "end of trees"') });
  });

  const cases: Array<[string, string, (text: string) => string, string]> = [
    ['a dropped tree (tree_sizes disagrees)', binaryText, (t) => t.slice(0, t.indexOf('Tree=4')) + t.slice(t.indexOf('end of trees')), 'tree_sizes lists 5 trees but the file holds 4'],
    ['objective multiclassova', binaryText, (t) => t.replace('objective=binary sigmoid:1', 'objective=multiclassova num_class:1 sigmoid:1'), '"multiclassova" is not supported'],
    ['objective poisson', regressionText, (t) => t.replace('objective=regression', 'objective=poisson'), '"poisson" is not supported'],
    ['objective regression sqrt', regressionText, (t) => t.replace('objective=regression', 'objective=regression sqrt'), 'option "sqrt"'],
    ['objective lambdarank', regressionText, (t) => t.replace('objective=regression', 'objective=lambdarank'), 'not supported'],
    ['no objective', regressionText, (t) => t.replace('objective=regression\n', ''), 'has no objective= line'],
    ['a non-positive sigmoid', binaryText, (t) => t.replace('sigmoid:1\n', 'sigmoid:-2\n'), 'sigmoid'],
    ['a linear tree', regressionText, (t) => t.replace('is_linear=0', 'is_linear=1'), 'linear'],
    ['average_output', regressionText, (t) => t.replace('feature_names=', 'average_output\nfeature_names='), 'average_output'],
    ['version v9', regressionText, (t) => t.replace('version=v3', 'version=v9'), 'model versions v2, v3 and v4'],
    ['garbage num_leaves', regressionText, (t) => t.replace('num_leaves=4', 'num_leaves=four'), 'Tree=0 num_leaves'],
    ['a split feature out of range', regressionText, (t) => t.replace('split_feature=0 1 2', 'split_feature=0 1 3'), 'split_feature value 2'],
    ['a short leaf_value line', regressionText, (t) => t.replace(/leaf_value=(\S+) /, 'leaf_value='), 'leaf_value has 3 values, expected 4'],
    ['a NaN leaf value', regressionText, (t) => t.replace(/leaf_value=\S+/, 'leaf_value=nan'), 'leaf_value value 0'],
    ['a huge leaf value', regressionText, (t) => t.replace(/leaf_value=\S+/, 'leaf_value=1e999'), 'finite number'],
    ['a NaN threshold', regressionText, (t) => t.replace('threshold=0 ', 'threshold=nan '), 'threshold value 0'],
    ['a child cycle', regressionText, (t) => t.replace('left_child=1 -1 -2', 'left_child=1 0 -2'), 'root'],
    ['a node reached twice', regressionText, (t) => t.replace('right_child=2 -3 -4', 'right_child=1 -3 -4'), 'reached twice'],
    ['feature_names of the wrong count', regressionText, (t) => t.replace('feature_names=r0 r1 r2', 'feature_names=r0 r1'), 'feature_names has 2 names'],
    ['duplicate feature names', regressionText, (t) => t.replace('feature_names=r0 r1 r2', 'feature_names=r0 r1 r0'), 'name twice'],
    ['a category above 254', binaryText, (t) => t.replace('cat_threshold=138', 'cat_threshold=138 0 0 0 0 0 0 0 1').replace('cat_boundaries=0 1\n', 'cat_boundaries=0 9\n'), 'category 256'],
    ['a categorical threshold beyond num_cat', binaryText, (t) => t.replace('threshold=0.25000000000000006 0 ', 'threshold=0.25000000000000006 3 '), 'not a category set index'],
    ['a tree count not a multiple of the classes', fs.readFileSync(path.join(LGB, 'multiclass.txt'), 'utf8'), (t) => {
      const unsized = t.replace(/tree_sizes=.*\n/, '');
      return unsized.slice(0, unsized.indexOf('Tree=11')) + 'end of trees\n';
    }, 'not a multiple'],
    ['a duplicated key', regressionText, (t) => t.replace('num_cat=0', 'num_cat=0\nnum_cat=0'), 'appears twice'],
    ['a line without =', regressionText, (t) => t.replace('num_cat=0', 'num_cat 0'), 'expected key=value'],
    ['out-of-order trees', regressionText, (t) => t.replace('Tree=1', 'Tree=7'), 'expected Tree=1'],
    ['an unterminated parameters section', regressionText, (t) => t.slice(0, t.indexOf('end of parameters')), 'end of parameters'],
    ['multiclass num_class disagreeing with the header', fs.readFileSync(path.join(LGB, 'multiclass.txt'), 'utf8'), (t) => t.replace('num_class:3', 'num_class:4'), 'disagrees'],
  ];
  for (const [what, base, mutate, message] of cases) {
    it(`refuses ${what}`, () => {
      const text = mutate(base);
      expect(text).not.toBe(base);
      let thrown: unknown;
      try {
        importLightGBMText(text, 'bad.txt');
      } catch (err) {
        thrown = err;
      }
      expect(isKilnError(thrown), String(thrown)).toBe(true);
      expect(thrown).toMatchObject({ code: 'E_MODEL_FORMAT', message: expect.stringContaining(message) });
      expect((thrown as Error).message).toMatch(/^bad\.txt/);
    });
  }

  it('never crashes on random text damage: either a valid model or E_MODEL_FORMAT', () => {
    let seed = 4242;
    const pick = (n: number): number => {
      seed = (seed * 16807) % 2147483647;
      return seed % n;
    };
    const pieces = ['', ' ', '=', '-', '1e999', 'nan', '\n', 'Tree=0\n', '99999999999', '-7', 'x', ':'];
    let refused = 0;
    for (let i = 0; i < 600; i++) {
      const at = pick(binaryText.length);
      const cut = pick(12);
      const text = binaryText.slice(0, at) + pieces[pick(pieces.length)] + binaryText.slice(at + cut);
      try {
        assertValidModel(importLightGBMText(text, 'fuzz'));
      } catch (err) {
        expect(isKilnError(err) && err.code === 'E_MODEL_FORMAT', `offset ${at}: ${String(err)}`).toBe(true);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(100);
    expect(() => importLightGBMText(42 as unknown as string)).toThrow(/expected the model text as a string/);
  });
});
