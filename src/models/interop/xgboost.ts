import { promises as fsp } from 'node:fs';
import { KilnError } from '../../../bindings/errors.js';
import { writeFileAtomic } from '../../io/atomic.js';
import {
  DECISION_CATEGORICAL,
  DECISION_DEFAULT_LEFT,
  MISSING_NAN,
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
  assertValidModel,
  numericDecision,
  type FeatureJson,
  type GbdtModelJson,
  type GbdtObjectiveName,
  type TreeJson,
} from '../format.js';

/*
 * XGBoost 1.7 JSON models (Booster.save_model('m.json')) <-> kiln gbdt models.
 *
 * Import: gbtree boosters with objective binary:logistic, multi:softprob, multi:softmax or
 * reg:squarederror (reg:linear, its old name). XGBoost compares float32 values, x < condition, and
 * NaN is its missing value, so imported trees use decision 'lt' and missing type nan; thresholds and
 * leaf values are the float32 numbers XGBoost itself reads. XGBoost also rounds every input to
 * float32 before comparing, so exact parity holds for float32 inputs; a float64 input that is not a
 * float32 value can land on the other side of a threshold (0.1 vs the condition float32(0.1)).
 * multi:softmax becomes a multiclass model that predicts class probabilities (XGBoost returns their
 * argmax as the label). Trees are regrouped by class (tree_info) so that tree t serves class t % K;
 * with num_parallel_tree > 1 an "iteration" of the kiln model is one tree per class, and
 * bestIteration is every tree (XGBoost's predict serves all trees by default; its best_iteration
 * attribute is kept in params.source). internalCount and
 * leafCount hold the rounded hessian cover (sum_hessian): the row count for squared error with unit
 * weights, a weighted cover for the other objectives. Refused (E_MODEL_FORMAT): dart and gblinear
 * boosters, categorical splits, multi-output models, other objectives.
 *
 * Export: a kiln model whose numeric nodes all treat NaN as missing and that has no categorical
 * nodes (XGBoost's missing value is NaN and 1.7 JSON categorical splits are not written here);
 * objective binary, multiclass or regression (huber has no XGBoost equivalent). Only the served
 * trees (the first bestIteration iterations) are written; kiln's per-class base margins are added to
 * the leaves of each class's first tree (XGBoost 1.7 has one scalar base_score).
 */

/** Largest XGBoost or LightGBM file the importers read (bytes); below V8's longest string. */
export const MAX_IMPORT_BYTES = 500 * 1024 * 1024;
/** Most input features an imported model may have. */
export const MAX_IMPORT_FEATURES = 1 << 20;
/** The XGBoost version written into exported files (the format of XGBoost 1.7 save_model). */
export const XGBOOST_EXPORT_VERSION = [1, 7, 4] as const;

/** Reads a foreign model file as UTF-8 text: E_IO when unreadable, E_MODEL_FORMAT when too large or not text. */
export async function readForeignModelText(file: string, what: string): Promise<string> {
  let size: number;
  try {
    const stat = await fsp.stat(file);
    if (!stat.isFile()) throw new KilnError('E_IO', `${what} model ${file} is not a file`, { file });
    size = stat.size;
  } catch (err) {
    if (err instanceof KilnError) throw err;
    throw new KilnError('E_IO', `cannot read ${what} model ${file}: ${(err as Error).message}`, { file });
  }
  if (size > MAX_IMPORT_BYTES) {
    throw new KilnError('E_MODEL_FORMAT', `${what} model ${file} is ${size} bytes, over the ${MAX_IMPORT_BYTES}-byte import limit`, { file, size });
  }
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(file);
  } catch (err) {
    throw new KilnError('E_IO', `cannot read ${what} model ${file}: ${(err as Error).message}`, { file });
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new KilnError('E_MODEL_FORMAT', `${what} model ${file} is not UTF-8 text`, { file });
  }
}

type JsonObject = Record<string, unknown>;

/** Typed access to an untrusted parsed JSON document; every failure is E_MODEL_FORMAT naming the field. */
class JsonFields {
  constructor(readonly source: string) {}

  fail(message: string): never {
    throw new KilnError('E_MODEL_FORMAT', `${this.source}: ${message}`, { source: this.source });
  }

  object(v: unknown, at: string): JsonObject {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(`${at} is missing or not an object`);
    return v as JsonObject;
  }

  array(v: unknown, at: string, length?: number): unknown[] {
    if (!Array.isArray(v)) this.fail(`${at} is missing or not an array`);
    if (length !== undefined && v.length !== length) this.fail(`${at} has ${v.length} entries, expected ${length}`);
    return v;
  }

  string(v: unknown, at: string): string {
    if (typeof v !== 'string') this.fail(`${at} is missing or not a string`);
    return v;
  }

  /** A number written as a JSON number or as a numeric string (XGBoost writes parameters as strings). */
  number(v: unknown, at: string): number {
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (!Number.isFinite(n)) this.fail(`${at} is ${JSON.stringify(v) ?? 'missing'}, expected a finite number`);
    return n;
  }

  integer(v: unknown, at: string, min: number, max: number): number {
    const n = this.number(v, at);
    if (!Number.isInteger(n) || n < min || n > max) this.fail(`${at} is ${JSON.stringify(v)}, expected an integer in [${min}, ${max}]`);
    return n;
  }

  numbers(v: unknown, at: string, length: number): number[] {
    const a = this.array(v, at, length);
    for (let i = 0; i < a.length; i++) if (typeof a[i] !== 'number') this.fail(`${at}[${i}] is ${JSON.stringify(a[i])}, expected a number`);
    return a as number[];
  }

  integers(v: unknown, at: string, length: number, min: number, max: number): number[] {
    const a = this.array(v, at, length);
    for (let i = 0; i < a.length; i++) {
      const n = a[i];
      if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) this.fail(`${at}[${i}] is ${JSON.stringify(n)}, expected an integer in [${min}, ${max}]`);
    }
    return a as number[];
  }

  flags(v: unknown, at: string, length: number): boolean[] {
    const a = this.array(v, at, length);
    return a.map((f, i) => {
      if (f === 0 || f === 1 || f === true || f === false) return f === 1 || f === true;
      return this.fail(`${at}[${i}] is ${JSON.stringify(f)}, expected 0 or 1`);
    });
  }
}

const XGBOOST_OBJECTIVES: Record<string, GbdtObjectiveName> = {
  'binary:logistic': 'binary',
  'multi:softprob': 'multiclass',
  'multi:softmax': 'multiclass',
  'reg:squarederror': 'regression',
  'reg:linear': 'regression',
};

/** Largest node or tree index the importer accepts (XGBoost stores them as int32). */
const MAX_INDEX = 0x7fffffff;

/** One XGBoost tree in kiln layout: internal nodes in preorder (root 0), leaves left to right. */
function importTree(fields: JsonFields, raw: unknown, at: string, numFeatures: number): TreeJson {
  const t = fields.object(raw, at);
  const left = fields.array(t.left_children, `${at}.left_children`);
  const n = left.length;
  if (n === 0) fields.fail(`${at} has no nodes`);
  if (t.tree_param !== undefined) {
    const p = fields.object(t.tree_param, `${at}.tree_param`);
    if (p.num_nodes !== undefined && fields.integer(p.num_nodes, `${at}.tree_param.num_nodes`, 1, MAX_INDEX) !== n) {
      fields.fail(`${at}.tree_param.num_nodes is ${JSON.stringify(p.num_nodes)} but the tree has ${n} nodes`);
    }
  }
  const leftChildren = fields.integers(left, `${at}.left_children`, n, -1, n - 1);
  const rightChildren = fields.integers(t.right_children, `${at}.right_children`, n, -1, n - 1);
  const splitIndices = fields.integers(t.split_indices, `${at}.split_indices`, n, 0, MAX_INDEX);
  const splitConditions = fields.numbers(t.split_conditions, `${at}.split_conditions`, n);
  const defaultLeft = fields.flags(t.default_left, `${at}.default_left`, n);
  const lossChanges = t.loss_changes === undefined ? null : fields.numbers(t.loss_changes, `${at}.loss_changes`, n);
  const sumHessian = t.sum_hessian === undefined ? null : fields.numbers(t.sum_hessian, `${at}.sum_hessian`, n);
  if (t.split_type !== undefined) {
    const splitType = fields.integers(t.split_type, `${at}.split_type`, n, 0, 255);
    if (splitType.some((s, i) => s !== 0 && leftChildren[i] !== -1)) fields.fail(`${at} has categorical splits; categorical splits are not supported`);
  }
  if (t.categories_nodes !== undefined && fields.array(t.categories_nodes, `${at}.categories_nodes`).length > 0) {
    fields.fail(`${at} has categorical splits; categorical splits are not supported`);
  }

  const isLeaf = (j: number): boolean => leftChildren[j] === -1;
  const kilnRef = new Int32Array(n);
  const visited = new Uint8Array(n);
  const preorder: number[] = [];
  let internals = 0;
  let leaves = 0;
  const stack = [0];
  while (stack.length > 0) {
    const j = stack.pop() as number;
    if (visited[j]) fields.fail(`${at}: node ${j} is reached twice (the node links do not form a tree)`);
    visited[j] = 1;
    if (isLeaf(j)) {
      if (rightChildren[j] !== -1) fields.fail(`${at}: node ${j} has a right child but no left child`);
      kilnRef[j] = ~leaves++;
      continue;
    }
    if (rightChildren[j] === -1) fields.fail(`${at}: node ${j} has a left child but no right child`);
    if (leftChildren[j] === 0 || rightChildren[j] === 0) fields.fail(`${at}: node ${j} links back to the root`);
    if (splitIndices[j] >= numFeatures) fields.fail(`${at}.split_indices[${j}] is ${splitIndices[j]}, but the model has ${numFeatures} features`);
    kilnRef[j] = internals++;
    preorder.push(j);
    stack.push(rightChildren[j], leftChildren[j]);
  }

  const tree: TreeJson = {
    numLeaves: leaves,
    splitFeature: [],
    threshold: [],
    decisionType: [],
    leftChild: [],
    rightChild: [],
    splitGain: [],
    internalCount: [],
    leafValue: new Array<number>(leaves).fill(0),
    leafCount: new Array<number>(leaves).fill(0),
    catSets: [],
  };
  const cover = (j: number, what: string): number => {
    if (!sumHessian) return 0;
    const h = sumHessian[j];
    if (!Number.isFinite(h) || h < 0) fields.fail(`${at}.sum_hessian[${j}] is ${h}, expected a finite number >= 0 (${what})`);
    return Math.round(h);
  };
  for (const j of preorder) {
    const threshold = Math.fround(splitConditions[j]);
    tree.splitFeature.push(splitIndices[j]);
    tree.threshold.push(threshold);
    tree.decisionType.push(numericDecision(defaultLeft[j], MISSING_NAN));
    tree.leftChild.push(kilnRef[leftChildren[j]]);
    tree.rightChild.push(kilnRef[rightChildren[j]]);
    const gain = lossChanges ? Math.fround(lossChanges[j]) : 0;
    if (!Number.isFinite(gain)) fields.fail(`${at}.loss_changes[${j}] is not a finite float32 number`);
    tree.splitGain.push(gain);
    tree.internalCount.push(cover(j, 'split cover'));
  }
  for (let j = 0; j < n; j++) {
    if (!visited[j] || !isLeaf(j)) continue;
    const leaf = ~kilnRef[j];
    const value = Math.fround(splitConditions[j]);
    if (!Number.isFinite(value)) fields.fail(`${at}.split_conditions[${j}] (a leaf value) is ${splitConditions[j]}, outside the float32 range`);
    tree.leafValue[leaf] = value;
    tree.leafCount[leaf] = cover(j, 'leaf cover');
  }
  return tree;
}

/** Converts a parsed XGBoost 1.7 JSON model into a kiln gbdt model. Throws E_MODEL_FORMAT naming the field. */
export function importXGBoostJson(obj: unknown, source = 'XGBoost model'): GbdtModelJson {
  const fields = new JsonFields(source);
  const root = fields.object(obj, 'the document');
  if (root.learner === undefined) fields.fail('is not an XGBoost JSON model (no "learner" object); write it with Booster.save_model("model.json")');
  const learner = fields.object(root.learner, 'learner');
  const version = root.version === undefined ? null : fields.integers(root.version, 'version', 3, 0, 1_000_000);

  const booster = fields.object(learner.gradient_booster, 'learner.gradient_booster');
  const boosterName = fields.string(booster.name, 'learner.gradient_booster.name');
  if (boosterName !== 'gbtree') {
    const why = boosterName === 'dart' ? ' (dart rescales trees by dropout weights)' : boosterName === 'gblinear' ? ' (gblinear is a linear model, not trees)' : '';
    fields.fail(`learner.gradient_booster.name is "${boosterName}"; only the gbtree booster can be imported${why}`);
  }
  const objectiveJson = fields.object(learner.objective, 'learner.objective');
  const objectiveName = fields.string(objectiveJson.name, 'learner.objective.name');
  const kilnObjective = XGBOOST_OBJECTIVES[objectiveName];
  if (!kilnObjective) fields.fail(`objective "${objectiveName}" is not supported (supported: ${Object.keys(XGBOOST_OBJECTIVES).join(', ')})`);

  const modelParam = fields.object(learner.learner_model_param, 'learner.learner_model_param');
  const numFeatures = fields.integer(modelParam.num_feature, 'learner.learner_model_param.num_feature', 1, MAX_IMPORT_FEATURES);
  if (modelParam.num_target !== undefined && fields.integer(modelParam.num_target, 'learner.learner_model_param.num_target', 0, MAX_INDEX) > 1) {
    fields.fail(`multi-output models are not supported (num_target is ${JSON.stringify(modelParam.num_target)})`);
  }
  const numClassParam = fields.integer(modelParam.num_class ?? '0', 'learner.learner_model_param.num_class', 0, 1024);
  const numClass = kilnObjective === 'multiclass' ? numClassParam : 1;
  if (kilnObjective === 'multiclass' && numClass < 2) fields.fail(`objective ${objectiveName} needs num_class >= 2, the file says ${numClassParam}`);
  if (kilnObjective !== 'multiclass' && numClassParam > 1) fields.fail(`objective ${objectiveName} with num_class ${numClassParam} is not a supported combination`);
  const baseScoreText = modelParam.base_score ?? '0.5';
  const baseScore32 = Math.fround(fields.number(baseScoreText, 'learner.learner_model_param.base_score'));
  let baseMargin: number;
  if (kilnObjective === 'binary') {
    if (!(baseScore32 > 0 && baseScore32 < 1)) fields.fail(`learner.learner_model_param.base_score is ${JSON.stringify(baseScoreText)}; binary:logistic needs a probability in (0, 1)`);
    baseMargin = Math.log(baseScore32 / (1 - baseScore32));
  } else {
    baseMargin = baseScore32;
  }

  const names = learner.feature_names === undefined ? [] : fields.array(learner.feature_names, 'learner.feature_names');
  if (names.length !== 0 && names.length !== numFeatures) fields.fail(`learner.feature_names has ${names.length} names for ${numFeatures} features`);
  const features: FeatureJson[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < numFeatures; i++) {
    const name = names.length === 0 ? `f${i}` : fields.string(names[i], `learner.feature_names[${i}]`);
    if (name.length === 0) fields.fail(`learner.feature_names[${i}] is empty`);
    if (seen.has(name)) fields.fail(`learner.feature_names has "${name}" twice`);
    seen.add(name);
    features.push({ name, type: 'numeric' });
  }

  const gbtree = fields.object(booster.model, 'learner.gradient_booster.model');
  const rawTrees = fields.array(gbtree.trees, 'learner.gradient_booster.model.trees');
  const treeInfo = fields.integers(gbtree.tree_info, 'learner.gradient_booster.model.tree_info', rawTrees.length, 0, numClass - 1);
  let numParallelTree = 1;
  if (gbtree.gbtree_model_param !== undefined) {
    const p = fields.object(gbtree.gbtree_model_param, 'learner.gradient_booster.model.gbtree_model_param');
    if (p.num_trees !== undefined && fields.integer(p.num_trees, 'learner.gradient_booster.model.gbtree_model_param.num_trees', 0, MAX_INDEX) !== rawTrees.length) {
      fields.fail(`gbtree_model_param.num_trees is ${JSON.stringify(p.num_trees)} but the file holds ${rawTrees.length} trees (truncated?)`);
    }
    if (p.num_parallel_tree !== undefined) numParallelTree = fields.integer(p.num_parallel_tree, 'learner.gradient_booster.model.gbtree_model_param.num_parallel_tree', 1, MAX_INDEX);
  }
  const byClass: number[][] = Array.from({ length: numClass }, () => []);
  treeInfo.forEach((k, t) => byClass[k].push(t));
  const perClass = byClass[0].length;
  byClass.forEach((list, k) => {
    if (list.length !== perClass) fields.fail(`class ${k} has ${list.length} trees but class 0 has ${perClass} (tree_info is inconsistent)`);
  });
  const trees: TreeJson[] = [];
  for (let i = 0; i < perClass; i++) {
    for (let k = 0; k < numClass; k++) {
      const t = byClass[k][i];
      trees.push(importTree(fields, rawTrees[t], `learner.gradient_booster.model.trees[${t}]`, numFeatures));
    }
  }

  const sourceInfo: Record<string, unknown> = {
    format: 'xgboost-json',
    xgboostVersion: version ? version.join('.') : null,
    objective: objectiveName,
    baseScore: String(baseScoreText),
    numParallelTree,
  };
  const attributes = learner.attributes === undefined ? {} : fields.object(learner.attributes, 'learner.attributes');
  if (typeof attributes.best_iteration === 'string') sourceInfo.bestIteration = attributes.best_iteration;

  return {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    kind: 'gbdt',
    objective: { name: kilnObjective, numClass },
    origin: 'xgboost',
    features,
    decision: 'lt',
    baseScore: new Array<number>(numClass).fill(baseMargin),
    numTreesPerIteration: numClass,
    numIterations: perClass,
    bestIteration: perClass,
    binMapper: null,
    params: { source: sourceInfo },
    training: null,
    trees,
  };
}

/** Reads an XGBoost JSON model file (save_model('m.json')) as a kiln model. Throws E_IO or E_MODEL_FORMAT. */
export async function readXGBoostModel(file: string): Promise<GbdtModelJson> {
  const text = await readForeignModelText(file, 'XGBoost');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new KilnError('E_MODEL_FORMAT', `XGBoost model ${file} is not valid JSON (${(err as Error).message}); kiln reads the JSON format of save_model("model.json"), not the binary or UBJSON formats`, { file });
  }
  return importXGBoostJson(parsed, `XGBoost model ${file}`);
}

const scratch32 = new Float32Array(1);
const scratchBits = new Uint32Array(scratch32.buffer);

/** The next float32 above the float32 value f (+Infinity stays). */
function float32Above(f: number): number {
  if (f === Infinity || Number.isNaN(f)) return f;
  if (f === 0) return 2 ** -149;
  scratch32[0] = f;
  scratchBits[0] += f > 0 ? 1 : -1;
  return scratch32[0];
}

/** The next float32 below the float32 value f (-Infinity stays). */
function float32Below(f: number): number {
  if (f === -Infinity || Number.isNaN(f)) return f;
  if (f === 0) return -(2 ** -149);
  scratch32[0] = f;
  scratchBits[0] += f > 0 ? -1 : 1;
  return scratch32[0];
}

/**
 * The XGBoost split condition c equivalent to a kiln numeric threshold t for every float32 input x.
 * 'lt': x < t  <=>  x < c with c the smallest float32 >= t.
 * 'le': x <= t <=>  x <= d with d the largest float32 <= t (no float32 lies in (d, t])
 *              <=>  x < c with c the next float32 above d (no float32 lies in (d, c)).
 */
export function xgboostCondition(t: number, decision: 'le' | 'lt'): number {
  const nearest = Math.fround(t);
  if (decision === 'lt') return nearest >= t ? nearest : float32Above(nearest);
  const atOrBelow = nearest <= t ? nearest : float32Below(nearest);
  return float32Above(atOrBelow);
}

/** The nodes of one kiln tree in XGBoost layout: root 0, each split's two children allocated as a pair (as XGBoost grows trees). */
function exportTree(model: GbdtModelJson, tree: TreeJson, at: string, baseMargin: number): JsonObject {
  const fail = (message: string): never => {
    throw new KilnError('E_MODEL_FORMAT', `cannot export to XGBoost: ${at} ${message}`);
  };
  const internals = tree.numLeaves - 1;
  const n = 2 * tree.numLeaves - 1;
  const left = new Array<number>(n).fill(-1);
  const right = new Array<number>(n).fill(-1);
  const parents = new Array<number>(n).fill(0);
  const splitIndices = new Array<number>(n).fill(0);
  const conditions = new Array<number>(n).fill(0);
  const defaultLeft = new Array<number>(n).fill(0);
  const baseWeights = new Array<number>(n).fill(0);
  const lossChanges = new Array<number>(n).fill(0);
  const sumHessian = new Array<number>(n).fill(0);
  parents[0] = 0x7fffffff;
  const leafValue = (leaf: number): number => {
    const v = Math.fround(tree.leafValue[leaf] + baseMargin);
    if (!Number.isFinite(v)) fail(`leaf ${leaf} value ${tree.leafValue[leaf]} is outside the float32 range`);
    return v;
  };
  const finite32 = (v: number): number => (Number.isFinite(v) ? Math.fround(v) : Math.sign(v) * 3.4028234663852886e38);

  if (internals === 0) {
    conditions[0] = baseWeights[0] = leafValue(0);
    sumHessian[0] = tree.leafCount[0] ?? 0;
  } else {
    let next = 1;
    const queue: Array<[kilnRef: number, xgbId: number]> = [[0, 0]];
    const visited = new Uint8Array(internals);
    for (let q = 0; q < queue.length; q++) {
      const [ref, id] = queue[q];
      if (ref < 0) {
        const leaf = ~ref;
        if (leaf >= tree.numLeaves) fail(`refers to leaf ${leaf} of ${tree.numLeaves}`);
        conditions[id] = baseWeights[id] = leafValue(leaf);
        sumHessian[id] = tree.leafCount[leaf] ?? 0;
        continue;
      }
      if (ref >= internals || visited[ref]) fail(`node ${ref} is out of range or reached twice`);
      visited[ref] = 1;
      const d = tree.decisionType[ref];
      if (d & DECISION_CATEGORICAL) fail(`node ${ref} is a categorical split; XGBoost export supports numeric splits only`);
      if (((d >> 2) & 3) !== MISSING_NAN) fail(`node ${ref} has missing type ${(d >> 2) & 3} (XGBoost treats only NaN as missing; export needs missing type 2, nan)`);
      const c = xgboostCondition(tree.threshold[ref], model.decision);
      if (!Number.isFinite(c)) fail(`node ${ref} threshold ${tree.threshold[ref]} has no float32 split condition (outside the float32 range)`);
      splitIndices[id] = tree.splitFeature[ref];
      conditions[id] = c;
      defaultLeft[id] = d & DECISION_DEFAULT_LEFT ? 1 : 0;
      lossChanges[id] = finite32(tree.splitGain[ref] ?? 0);
      sumHessian[id] = tree.internalCount[ref] ?? 0;
      left[id] = next;
      right[id] = next + 1;
      parents[next] = id;
      parents[next + 1] = id;
      queue.push([tree.leftChild[ref], next], [tree.rightChild[ref], next + 1]);
      next += 2;
    }
    if (queue.length !== n) fail(`does not reach all ${tree.numLeaves} leaves from the root`);
  }
  return {
    base_weights: baseWeights,
    categories: [],
    categories_nodes: [],
    categories_segments: [],
    categories_sizes: [],
    default_left: defaultLeft,
    id: 0,
    left_children: left,
    loss_changes: lossChanges,
    parents,
    right_children: right,
    split_conditions: conditions,
    split_indices: splitIndices,
    split_type: new Array<number>(n).fill(0),
    sum_hessian: sumHessian,
    tree_param: { num_deleted: '0', num_feature: String(model.features.length), num_nodes: String(n), size_leaf_vector: '0' },
  };
}

/** An XGBoost 1.7 JSON model that predicts what the kiln model serves (float32 arithmetic). Throws E_MODEL_FORMAT for what XGBoost cannot express. */
export function exportXGBoostJson(model: GbdtModelJson): object {
  assertValidModel(model, 'model to export');
  const fail = (message: string): never => {
    throw new KilnError('E_MODEL_FORMAT', `cannot export to XGBoost: ${message}`);
  };
  const K = model.numTreesPerIteration;
  let objective: JsonObject;
  let baseScore: string;
  switch (model.objective.name) {
    case 'binary':
      objective = { name: 'binary:logistic', reg_loss_param: { scale_pos_weight: '1' } };
      baseScore = '5E-1';
      break;
    case 'multiclass':
      objective = { name: 'multi:softprob', softmax_multiclass_param: { num_class: String(K) } };
      baseScore = '0E0';
      break;
    case 'regression':
      objective = { name: 'reg:squarederror', reg_loss_param: { scale_pos_weight: '1' } };
      baseScore = '0E0';
      break;
    default:
      return fail(`objective ${model.objective.name} has no XGBoost equivalent`);
  }
  if ((model.objective.name === 'multiclass') !== K > 1 || model.baseScore.length !== K) {
    fail(`objective ${model.objective.name} with ${K} trees per iteration and ${model.baseScore.length} base scores is inconsistent`);
  }
  if (model.features.some((f) => f.type !== 'numeric')) fail('the model has categorical features; XGBoost export supports numeric features only');
  const served = model.bestIteration * K;
  if (served > model.trees.length) fail(`bestIteration ${model.bestIteration} needs ${served} trees, the model has ${model.trees.length}`);

  const trees: JsonObject[] = [];
  for (let t = 0; t < served; t++) {
    const base = t < K ? model.baseScore[t] : 0;
    trees.push(exportTree(model, model.trees[t], `tree ${t}`, base));
  }
  if (served === 0) {
    for (let k = 0; k < K; k++) {
      const single: TreeJson = { numLeaves: 1, splitFeature: [], threshold: [], decisionType: [], leftChild: [], rightChild: [], splitGain: [], internalCount: [], leafValue: [0], leafCount: [0], catSets: [] };
      trees.push(exportTree(model, single, `base score tree ${k}`, model.baseScore[k]));
    }
  }
  trees.forEach((tree, i) => (tree.id = i));

  return {
    learner: {
      attributes: {},
      feature_names: model.features.map((f) => f.name),
      feature_types: model.features.map(() => 'float'),
      gradient_booster: {
        model: {
          gbtree_model_param: { num_parallel_tree: '1', num_trees: String(trees.length), size_leaf_vector: '0' },
          tree_info: trees.map((_, i) => i % K),
          trees,
        },
        name: 'gbtree',
      },
      learner_model_param: {
        base_score: baseScore,
        boost_from_average: '1',
        num_class: K > 1 ? String(K) : '0',
        num_feature: String(model.features.length),
        num_target: '1',
      },
      objective,
    },
    version: [...XGBOOST_EXPORT_VERSION],
  };
}

/** Tree fields XGBoost reads as floats: its JSON reader refuses an integer token ("1") where it expects a float ("1.0"). */
const XGBOOST_FLOAT_ARRAYS = new Set(['base_weights', 'loss_changes', 'split_conditions', 'sum_hessian']);

/** A number as an XGBoost JSON float token (always with a fraction or an exponent). */
function floatToken(v: number): string {
  const text = JSON.stringify(v);
  return /[.eE]/.test(text) ? text : `${text}.0`;
}

/** The JSON text of an exported model (exportXGBoostJson), with float fields written as float tokens. */
export function xgboostJsonText(doc: object): string {
  const write = (value: unknown, key: string): string => {
    if (Array.isArray(value)) {
      if (XGBOOST_FLOAT_ARRAYS.has(key)) return `[${value.map((v) => floatToken(v as number)).join(',')}]`;
      return `[${value.map((v) => write(v, '')).join(',')}]`;
    }
    if (value !== null && typeof value === 'object') {
      return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${write(v, k)}`).join(',')}}`;
    }
    return JSON.stringify(value);
  };
  return write(doc, '');
}

/** Writes the model as an XGBoost 1.7 JSON file (atomically) that xgb.Booster(model_file=...) loads. */
export async function writeXGBoostModel(model: GbdtModelJson, file: string): Promise<void> {
  const text = xgboostJsonText(exportXGBoostJson(model));
  try {
    await writeFileAtomic(file, text);
  } catch (err) {
    throw new KilnError('E_IO', `cannot write XGBoost model ${file}: ${(err as Error).message}`, { file });
  }
}
