import type { GbdtModelJson, TreeJson } from '../../src/models/format.js';

/*
 * A deliberately plain evaluator of a kiln gbdt model, written from the model-format contract and
 * used by tests as an oracle independent of the native predictor.
 */

/** LightGBM's zero threshold (the float 1e-35f): |x| <= this counts as zero for missing type zero. */
export const ZERO_THRESHOLD = Math.fround(1e-35);

/** The category code of a raw value of a categorical feature, or null when it counts as missing. */
function categoryCode(model: GbdtModelJson, feature: number, x: number): number | null {
  if (Number.isNaN(x)) return null;
  const categories = model.features[feature].categories ?? [];
  const code = categories.findIndex((c) => c === x);
  if (code >= 0) return code;
  if (model.features[feature].unseen === 'missing') return null;
  throw new Error(`feature ${model.features[feature].name}: value ${x} is not a known category`);
}

/** Whether a row goes to the left child at internal node `node`. */
function goesLeft(model: GbdtModelJson, tree: TreeJson, node: number, row: ArrayLike<number>): boolean {
  const feature = tree.splitFeature[node];
  const decision = tree.decisionType[node];
  const defaultLeft = (decision & 2) !== 0;
  let x = row[feature];
  if (decision & 1) {
    const code = categoryCode(model, feature, x);
    if (code === null) return defaultLeft;
    return tree.catSets[tree.threshold[node]].includes(code);
  }
  const missingType = (decision >> 2) & 3;
  if (missingType === 0 && Number.isNaN(x)) x = 0;
  const missing = (missingType === 1 && (Number.isNaN(x) || Math.abs(x) <= ZERO_THRESHOLD)) || (missingType === 2 && Number.isNaN(x));
  if (missing) return defaultLeft;
  return model.decision === 'le' ? x <= tree.threshold[node] : x < tree.threshold[node];
}

/** The leaf value a row reaches in one tree. */
export function referenceLeafValue(model: GbdtModelJson, tree: TreeJson, row: ArrayLike<number>): number {
  if (tree.numLeaves === 1) return tree.leafValue[0];
  let node = 0;
  while (node >= 0) node = goesLeft(model, tree, node, row) ? tree.leftChild[node] : tree.rightChild[node];
  return tree.leafValue[~node];
}

/** The K margins of one row over the served trees (the first bestIteration iterations). */
export function referenceMargins(model: GbdtModelJson, row: ArrayLike<number>): number[] {
  const k = model.numTreesPerIteration;
  const margins = model.baseScore.slice();
  const served = model.bestIteration * k;
  for (let t = 0; t < served; t++) margins[t % k] += referenceLeafValue(model, model.trees[t], row);
  return margins;
}

/** The model's output for one row: [P(class 1)] for binary, K probabilities for multiclass, [value] for regression. */
export function referencePredict(model: GbdtModelJson, row: ArrayLike<number>): number[] {
  const margins = referenceMargins(model, row);
  if (model.objective.name === 'binary') return [1 / (1 + Math.exp(-margins[0]))];
  if (model.objective.name === 'multiclass') {
    const max = Math.max(...margins);
    const exps = margins.map((m) => Math.exp(m - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    return exps.map((e) => e / sum);
  }
  return margins;
}

/** Rows as stored in oracle fixtures (null stands for NaN) turned into number arrays. */
export function rowsFromFixture(rows: Array<Array<number | null>>): number[][] {
  return rows.map((row) => row.map((v) => (v === null ? NaN : v)));
}
