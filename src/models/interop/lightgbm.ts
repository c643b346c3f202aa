import { KilnError } from '../../../bindings/errors.js';
import {
  DECISION_CATEGORICAL,
  MISSING_NAN,
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
  type FeatureJson,
  type GbdtModelJson,
  type GbdtObjectiveName,
  type TreeJson,
} from '../format.js';
import { MAX_IMPORT_FEATURES, readForeignModelText } from './xgboost.js';

/*
 * LightGBM text models (Booster.save_model('model.txt'), versions v2 to v4) -> kiln gbdt models.
 *
 * The tree layout and the numeric decision-type bits are LightGBM's own, so numeric nodes are copied
 * as they are (decision 'le': go left iff x <= threshold; missing types none / zero / nan as written).
 * Leaf values already include shrinkage and the initial score (folded into the first trees by
 * LightGBM), so baseScore is 0. Objectives: binary (sigmoid:s; s != 1 is applied by scaling every
 * leaf value by s, so that sigmoid(margin) is LightGBM's probability), multiclass (softmax),
 * regression (L2) and huber (delta from the objective line, else the [alpha: ...] parameter, else
 * LightGBM's default 0.9). Refused (E_MODEL_FORMAT): linear trees, average_output (random forest
 * mode), other objectives (multiclassova, xentropy, poisson, regression sqrt, ...).
 *
 * Categorical splits: a feature with a categorical split becomes a kiln categorical feature whose
 * categories are the raw integer values 0..maxCode (categories[i] = i, maxCode the largest value in its
 * split sets or in feature_infos; at most 254) with unseen 'missing'. LightGBM sends NaN, negative
 * values and values outside the split's bitset right (LightGBM 4; LightGBM 3 does the same on
 * x86-64), so imported categorical nodes have missing type nan and default direction right:
 * NaN -> right, a value outside 0..maxCode -> unseen -> missing -> right. Difference: LightGBM
 * truncates a non-integer value (2.7 -> category 2); kiln treats it as unseen.
 */

/** The LightGBM objectives kiln serves and their kiln names. */
const LIGHTGBM_OBJECTIVES: Record<string, GbdtObjectiveName> = {
  binary: 'binary',
  multiclass: 'multiclass',
  regression: 'regression',
  regression_l2: 'regression',
  huber: 'huber',
};
/** LightGBM's default huber delta (its alpha parameter). */
const LIGHTGBM_DEFAULT_HUBER_ALPHA = 0.9;
/** Largest category code a kiln categorical feature can hold. */
const MAX_CATEGORY_CODE = 254;
/** Most leaves per tree the importer accepts (LightGBM's num_leaves limit is 131072). */
const MAX_LEAVES = 131072;
const NUMBER_TOKEN = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Line-oriented reader of an untrusted LightGBM text model; every failure is E_MODEL_FORMAT naming the line. */
class LightGBMText {
  readonly lines: string[];
  pos = 0;

  constructor(text: string, readonly source: string) {
    this.lines = text.split(/\r?\n/);
  }

  fail(message: string, line?: number): never {
    const where = line === undefined ? '' : ` (line ${line + 1})`;
    throw new KilnError('E_MODEL_FORMAT', `${this.source}${where}: ${message}`, { source: this.source, ...(line === undefined ? {} : { line: line + 1 }) });
  }

  /** The key=value lines from pos up to (not including) the first line for which `stop` holds. */
  readBlock(stop: (line: string) => boolean): Map<string, { value: string; line: number }> {
    const block = new Map<string, { value: string; line: number }>();
    for (; this.pos < this.lines.length; this.pos++) {
      const line = this.lines[this.pos].trim();
      if (stop(line)) break;
      if (line === '') continue;
      const eq = line.indexOf('=');
      if (eq <= 0) {
        if (line === 'average_output') this.fail('average_output models (random forest mode) average their trees; kiln sums trees and cannot import them', this.pos);
        this.fail(`expected key=value, got ${JSON.stringify(line.slice(0, 80))}`, this.pos);
      }
      const key = line.slice(0, eq);
      if (block.has(key)) this.fail(`key ${key} appears twice`, this.pos);
      block.set(key, { value: line.slice(eq + 1), line: this.pos });
    }
    return block;
  }
}

/** Parses one numeric token as LightGBM writes it (also inf, -inf, nan). */
function parseNumberToken(token: string): number {
  if (NUMBER_TOKEN.test(token)) return Number(token);
  switch (token.toLowerCase()) {
    case 'inf':
    case '+inf':
    case 'infinity':
      return Infinity;
    case '-inf':
    case '-infinity':
      return -Infinity;
    default:
      return NaN;
  }
}

type Block = Map<string, { value: string; line: number }>;

/** Typed fields of one header or tree block. */
class BlockFields {
  constructor(private readonly reader: LightGBMText, private readonly block: Block, private readonly where: string, private readonly line: number) {}

  has(key: string): boolean {
    return this.block.has(key);
  }

  fail(message: string, key?: string): never {
    const entry = key === undefined ? undefined : this.block.get(key);
    return this.reader.fail(`${this.where}${key ? ` ${key}` : ''} ${message}`, entry?.line ?? this.line);
  }

  text(key: string): string {
    const entry = this.block.get(key);
    if (!entry) this.fail(`has no ${key}= line (truncated or not a LightGBM model?)`);
    return entry.value;
  }

  tokens(key: string): string[] {
    const value = this.text(key).trim();
    return value === '' ? [] : value.split(/\s+/);
  }

  integer(key: string, min: number, max: number): number {
    const text = this.text(key).trim();
    const n = /^[+-]?\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) this.fail(`is ${JSON.stringify(text)}, expected an integer in [${min}, ${max}]`, key);
    return n;
  }

  integers(key: string, length: number, min: number, max: number): number[] {
    const tokens = this.tokens(key);
    if (tokens.length !== length) this.fail(`has ${tokens.length} values, expected ${length}`, key);
    return tokens.map((t, i) => {
      const n = /^[+-]?\d+$/.test(t) ? Number(t) : NaN;
      if (!Number.isSafeInteger(n) || n < min || n > max) this.fail(`value ${i} is ${JSON.stringify(t)}, expected an integer in [${min}, ${max}]`, key);
      return n;
    });
  }

  numbers(key: string, length: number, allow: 'finite' | 'non-nan'): number[] {
    const tokens = this.tokens(key);
    if (tokens.length !== length) this.fail(`has ${tokens.length} values, expected ${length}`, key);
    return tokens.map((t, i) => {
      const n = parseNumberToken(t);
      if (allow === 'finite' ? !Number.isFinite(n) : Number.isNaN(n)) this.fail(`value ${i} is ${JSON.stringify(t)}, expected a ${allow === 'finite' ? 'finite ' : ''}number`, key);
      return n;
    });
  }
}

interface ParsedObjective {
  name: GbdtObjectiveName;
  numClass: number;
  sigmoid: number;
  huberDelta?: number;
}

function parseObjective(header: BlockFields, parameters: Map<string, string>): ParsedObjective {
  const [name, ...rest] = header.tokens('objective');
  if (name === undefined) header.fail('is empty', 'objective');
  const kilnName = LIGHTGBM_OBJECTIVES[name];
  if (!kilnName) header.fail(`"${name}" is not supported (supported: ${Object.keys(LIGHTGBM_OBJECTIVES).join(', ')})`, 'objective');
  const options = new Map<string, string>();
  for (const token of rest) {
    const colon = token.indexOf(':');
    if (colon < 0) header.fail(`option "${token}" is not supported (e.g. regression sqrt changes the output transform)`, 'objective');
    options.set(token.slice(0, colon), token.slice(colon + 1));
  }
  const positive = (text: string, what: string): number => {
    const v = parseNumberToken(text);
    if (!(Number.isFinite(v) && v > 0)) header.fail(`${what} is ${JSON.stringify(text)}, expected a positive number`, 'objective');
    return v;
  };
  const numClassHeader = header.integer('num_class', 1, 1024);
  const treesPerIteration = header.integer('num_tree_per_iteration', 1, 1024);
  switch (kilnName) {
    case 'binary': {
      const sigmoid = positive(options.get('sigmoid') ?? '1', 'sigmoid');
      if (numClassHeader !== 1 || treesPerIteration !== 1) header.fail(`binary with num_class ${numClassHeader} and num_tree_per_iteration ${treesPerIteration} is inconsistent`, 'objective');
      return { name: kilnName, numClass: 1, sigmoid };
    }
    case 'multiclass': {
      const k = Number(options.get('num_class'));
      if (!Number.isInteger(k) || k < 2 || k !== numClassHeader || treesPerIteration !== k) {
        header.fail(`multiclass num_class:${options.get('num_class')} disagrees with num_class=${numClassHeader} / num_tree_per_iteration=${treesPerIteration}`, 'objective');
      }
      return { name: kilnName, numClass: k, sigmoid: 1 };
    }
    default: {
      if (numClassHeader !== 1 || treesPerIteration !== 1) header.fail(`${name} with num_class ${numClassHeader} and num_tree_per_iteration ${treesPerIteration} is inconsistent`, 'objective');
      if (kilnName === 'huber') {
        const alpha = options.get('alpha') ?? parameters.get('alpha') ?? String(LIGHTGBM_DEFAULT_HUBER_ALPHA);
        return { name: kilnName, numClass: 1, sigmoid: 1, huberDelta: positive(alpha, 'huber alpha') };
      }
      return { name: kilnName, numClass: 1, sigmoid: 1 };
    }
  }
}

/** The category codes whose bits are set in LightGBM bitset words. */
function codesOfBitset(words: number[]): number[] {
  const codes: number[] = [];
  words.forEach((word, w) => {
    for (let b = 0; b < 32; b++) if ((word >>> b) & 1) codes.push(w * 32 + b);
  });
  return codes;
}

interface ParsedTree {
  tree: TreeJson;
  /** Per categorical set: the feature it splits. */
  catFeature: Map<number, number>;
}

function parseTree(reader: LightGBMText, block: Block, index: number, line: number, numFeatures: number, leafScale: number): ParsedTree {
  const f = new BlockFields(reader, block, `Tree=${index}`, line);
  const numLeaves = f.integer('num_leaves', 1, MAX_LEAVES);
  const m = numLeaves - 1;
  const numCat = f.integer('num_cat', 0, m);
  if (f.has('is_linear') && f.integer('is_linear', 0, 1) === 1) f.fail('is a linear tree (is_linear=1); linear trees are not supported');
  const splitFeature = f.integers('split_feature', m, 0, numFeatures - 1);
  const threshold = f.numbers('threshold', m, 'non-nan');
  const decisionType = f.integers('decision_type', m, 0, 15);
  const leftChild = f.integers('left_child', m, -numLeaves, m - 1);
  const rightChild = f.integers('right_child', m, -numLeaves, m - 1);
  const splitGain = f.has('split_gain') ? f.numbers('split_gain', m, 'non-nan') : new Array<number>(m).fill(0);
  const internalCount = f.has('internal_count') ? f.integers('internal_count', m, 0, Number.MAX_SAFE_INTEGER) : new Array<number>(m).fill(0);
  const leafValue = f.numbers('leaf_value', numLeaves, 'finite').map((v) => v * leafScale);
  if (!leafValue.every(Number.isFinite)) f.fail('has a leaf value that overflows when scaled by the sigmoid factor', 'leaf_value');
  const leafCount = f.has('leaf_count') ? f.integers('leaf_count', numLeaves, 0, Number.MAX_SAFE_INTEGER) : new Array<number>(numLeaves).fill(0);

  const catSets: number[][] = [];
  if (numCat > 0) {
    const boundaries = f.integers('cat_boundaries', numCat + 1, 0, Number.MAX_SAFE_INTEGER);
    const words = f.integers('cat_threshold', boundaries[numCat], 0, 0xffffffff);
    if (boundaries[0] !== 0) f.fail('must start at 0', 'cat_boundaries');
    for (let c = 0; c < numCat; c++) {
      if (boundaries[c + 1] < boundaries[c]) f.fail('is not non-decreasing', 'cat_boundaries');
      const codes = codesOfBitset(words.slice(boundaries[c], boundaries[c + 1]));
      if (codes.length > 0 && codes[codes.length - 1] > MAX_CATEGORY_CODE) {
        f.fail(`set ${c} holds category ${codes[codes.length - 1]}; kiln categorical features hold codes 0..${MAX_CATEGORY_CODE}`, 'cat_threshold');
      }
      catSets.push(codes);
    }
  }

  const catFeature = new Map<number, number>();
  const outDecision = decisionType.map((d, j) => {
    if (!(d & DECISION_CATEGORICAL)) return d;
    const set = threshold[j];
    if (!Number.isInteger(set) || set < 0 || set >= numCat) f.fail(`node ${j} is categorical but threshold ${set} is not a category set index below num_cat ${numCat}`, 'threshold');
    if (catFeature.has(set) && catFeature.get(set) !== splitFeature[j]) f.fail(`category set ${set} is used by two features`, 'threshold');
    catFeature.set(set, splitFeature[j]);
    return DECISION_CATEGORICAL | (MISSING_NAN << 2);
  });

  if (m > 0) {
    const nodeSeen = new Uint8Array(m);
    const leafSeen = new Uint8Array(numLeaves);
    const stack = [0];
    while (stack.length > 0) {
      const node = stack.pop() as number;
      if (nodeSeen[node]) f.fail(`node ${node} is reached twice (the child links do not form a tree)`, 'left_child');
      nodeSeen[node] = 1;
      for (const child of [leftChild[node], rightChild[node]]) {
        if (child >= 0) {
          if (child === 0) f.fail(`node ${node} links back to the root`, 'left_child');
          stack.push(child);
        } else {
          if (leafSeen[~child]) f.fail(`leaf ${~child} is reached twice`, 'left_child');
          leafSeen[~child] = 1;
        }
      }
    }
    if (nodeSeen.includes(0) || leafSeen.includes(0)) f.fail('has nodes or leaves not reachable from the root', 'left_child');
  }

  return {
    tree: {
      numLeaves,
      splitFeature,
      threshold,
      decisionType: outDecision,
      leftChild,
      rightChild,
      splitGain,
      internalCount,
      leafValue,
      leafCount,
      catSets,
    },
    catFeature,
  };
}

/** The largest category in a feature_infos entry of a categorical feature ("3:0:12:1"), or -1. */
function maxCategoryInInfo(info: string | undefined): number {
  if (info === undefined || !/^\d+(:\d+)*$/.test(info)) return -1;
  return Math.max(...info.split(':').map(Number));
}

/** Converts the text of a LightGBM model file into a kiln gbdt model. Throws E_MODEL_FORMAT naming the line. */
export function importLightGBMText(text: string, source = 'LightGBM model'): GbdtModelJson {
  if (typeof text !== 'string') throw new KilnError('E_MODEL_FORMAT', `${source}: expected the model text as a string`, { source });
  const reader = new LightGBMText(text, source);
  while (reader.pos < reader.lines.length && reader.lines[reader.pos].trim() === '') reader.pos++;
  const first = reader.lines[reader.pos]?.trim() ?? '';
  if (first !== 'tree') reader.fail(`is not a LightGBM text model (first line is ${JSON.stringify(first.slice(0, 40))}, expected "tree")`, reader.pos);
  reader.pos++;
  const headerLine = reader.pos;
  const header = new BlockFields(reader, reader.readBlock((l) => l.startsWith('Tree=') || l === 'end of trees'), 'header', headerLine);
  const version = header.text('version').trim();
  if (!['v2', 'v3', 'v4'].includes(version)) header.fail(`is ${JSON.stringify(version)}; kiln reads LightGBM model versions v2, v3 and v4`, 'version');

  const rawBlocks: Array<{ block: Block; index: number; line: number }> = [];
  for (;;) {
    if (reader.pos >= reader.lines.length) reader.fail('is truncated: no "end of trees" line');
    const line = reader.lines[reader.pos].trim();
    if (line === 'end of trees') break;
    const index = Number(line.slice('Tree='.length));
    if (!line.startsWith('Tree=') || index !== rawBlocks.length) reader.fail(`expected Tree=${rawBlocks.length}, got ${JSON.stringify(line.slice(0, 40))}`, reader.pos);
    const startLine = reader.pos++;
    rawBlocks.push({ block: reader.readBlock((l) => l.startsWith('Tree=') || l === 'end of trees'), index, line: startLine });
  }
  reader.pos++;

  const parameters = new Map<string, string>();
  for (; reader.pos < reader.lines.length; reader.pos++) {
    if (reader.lines[reader.pos].trim() !== 'parameters:') continue;
    let closed = false;
    for (reader.pos++; reader.pos < reader.lines.length; reader.pos++) {
      const line = reader.lines[reader.pos].trim();
      if (line === 'end of parameters') {
        closed = true;
        break;
      }
      const match = /^\[([^:\]]+): ?(.*)\]$/.exec(line);
      if (match) parameters.set(match[1], match[2]);
      else if (line !== '') reader.fail(`expected a [name: value] parameter, got ${JSON.stringify(line.slice(0, 80))}`, reader.pos);
    }
    if (!closed) reader.fail('is truncated: the parameters section has no "end of parameters" line');
    break;
  }
  const pandasLine = reader.lines.find((l) => l.startsWith('pandas_categorical:'));

  const objective = parseObjective(header, parameters);
  const numFeatures = header.integer('max_feature_idx', 0, MAX_IMPORT_FEATURES - 1) + 1;
  const names = header.tokens('feature_names');
  if (names.length !== numFeatures) header.fail(`has ${names.length} names for max_feature_idx+1 = ${numFeatures} features`, 'feature_names');
  if (new Set(names).size !== names.length) header.fail('has a name twice', 'feature_names');
  const infos = header.has('feature_infos') ? header.tokens('feature_infos') : [];
  if (infos.length !== 0 && infos.length !== numFeatures) header.fail(`has ${infos.length} entries for ${numFeatures} features`, 'feature_infos');
  if (header.has('tree_sizes') && header.tokens('tree_sizes').length !== rawBlocks.length) {
    header.fail(`lists ${header.tokens('tree_sizes').length} trees but the file holds ${rawBlocks.length} (truncated?)`, 'tree_sizes');
  }
  const treesPerIteration = objective.numClass;
  if (rawBlocks.length % treesPerIteration !== 0) reader.fail(`holds ${rawBlocks.length} trees, not a multiple of num_tree_per_iteration ${treesPerIteration}`);

  const trees: TreeJson[] = [];
  const categoricalMax = new Map<number, number>();
  const numericFeatures = new Set<number>();
  for (const { block, index, line } of rawBlocks) {
    const { tree, catFeature } = parseTree(reader, block, index, line, numFeatures, objective.sigmoid);
    tree.decisionType.forEach((d, j) => {
      if (!(d & DECISION_CATEGORICAL)) numericFeatures.add(tree.splitFeature[j]);
    });
    for (const [set, feature] of catFeature) {
      const codes = tree.catSets[set];
      categoricalMax.set(feature, Math.max(categoricalMax.get(feature) ?? 0, codes.length > 0 ? codes[codes.length - 1] : 0));
    }
    trees.push(tree);
  }

  const features: FeatureJson[] = names.map((name, i) => {
    if (!categoricalMax.has(i)) return { name, type: 'numeric' };
    if (numericFeatures.has(i)) reader.fail(`feature ${name} has both numeric and categorical splits`);
    const maxCode = Math.max(categoricalMax.get(i) as number, maxCategoryInInfo(infos[i]));
    if (maxCode > MAX_CATEGORY_CODE) reader.fail(`categorical feature ${name} has category ${maxCode}; kiln categorical features hold codes 0..${MAX_CATEGORY_CODE}`);
    return { name, type: 'categorical', categories: Array.from({ length: maxCode + 1 }, (_, c) => c), unseen: 'missing' };
  });

  const sourceInfo: Record<string, unknown> = {
    format: 'lightgbm-text',
    lightgbmVersion: version,
    objective: header.text('objective').trim(),
    parameters: Object.fromEntries(parameters),
  };
  if (objective.sigmoid !== 1) sourceInfo.leafValuesScaledBySigmoid = objective.sigmoid;
  if (pandasLine !== undefined && pandasLine.trim() !== 'pandas_categorical:null') sourceInfo.pandasCategorical = pandasLine.slice('pandas_categorical:'.length).trim();

  const numIterations = trees.length / treesPerIteration;
  return {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    kind: 'gbdt',
    objective: objective.huberDelta === undefined ? { name: objective.name, numClass: objective.numClass } : { name: objective.name, numClass: objective.numClass, huberDelta: objective.huberDelta },
    origin: 'lightgbm',
    features,
    decision: 'le',
    baseScore: new Array<number>(treesPerIteration).fill(0),
    numTreesPerIteration: treesPerIteration,
    numIterations,
    bestIteration: numIterations,
    binMapper: null,
    params: { source: sourceInfo },
    training: null,
    trees,
  };
}

/** Reads a LightGBM text model file (save_model('model.txt')) as a kiln model. Throws E_IO or E_MODEL_FORMAT. */
export async function readLightGBMModel(file: string): Promise<GbdtModelJson> {
  const text = await readForeignModelText(file, 'LightGBM');
  return importLightGBMText(text, `LightGBM model ${file}`);
}
