// Stacking on adult (issue 5 §5/§8): GBDT (31 leaves), GBDT (shallow, subsampled), logistic
// regression and an MLP, stacked on 5-fold out-of-fold logits by a logistic meta-model; trained on
// adult.data.csv, scored on adult.test.csv as given. Prints each member's and the stack's test AUC,
// the stack's uncertainty summary and the wall time, then one JSON line.
//
//   npm run build:ts && node benchmarks/ensemble/adult-stack.mjs [--threads 2] [--calibrate none|sigmoid|isotonic]
//
// The same configuration is the KILN_STRESS=1 variant of the adult test in
// test/unit/models/ensemble.test.ts.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR, machine } from '../lib.mjs';

const { values: args } = parseArgs({ options: { threads: { type: 'string', default: '2' }, calibrate: { type: 'string', default: 'none' } } });
const { StackingClassifier, scanFile } = await import(path.join(BENCH_DIR, '../dist/src/index.js'));

const DATA = path.resolve(BENCH_DIR, '../../shared/datasets/adult');

async function read(file) {
  for await (const b of scanFile(path.join(DATA, file), { nullStrings: ['?'], batchSize: 100_000 })) return b;
  throw new Error(`${file} is empty`);
}

function auc(p, y) {
  const idx = Array.from({ length: p.length }, (_, i) => i).sort((i, j) => p[i] - p[j]);
  let pos = 0, neg = 0, rankSum = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && p[idx[j + 1]] === p[idx[i]]) j++;
    for (let t = i; t <= j; t++) {
      if (y[idx[t]] === 1) {
        pos++;
        rankSum += (i + j) / 2 + 1;
      } else neg++;
    }
    i = j + 1;
  }
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

const train = await read('adult.data.csv');
const test = await read('adult.test.csv');
const features = train.columns.map((c) => c.name).filter((n) => n !== 'class');
const label = (b) => Float64Array.from({ length: b.numRows }, (_, i) => (String(b.value('class', i)).startsWith('>50K') ? 1 : 0));

const stack = new StackingClassifier({
  members: [
    { name: 'gbdt', kind: 'gbdt', params: { nEstimators: 100, numLeaves: 31 } },
    { name: 'gbdt-shallow', kind: 'gbdt', params: { nEstimators: 300, numLeaves: 8, maxDepth: 3, featureFraction: 0.5, baggingFraction: 0.8, baggingFreq: 1 } },
    { name: 'logreg', kind: 'logreg' },
    { name: 'mlp', kind: 'mlp', params: { hiddenLayers: [32], epochs: 10 } },
  ],
  folds: 5,
  seed: 1,
  unseenCategory: 'missing',
  calibrate: args.calibrate,
  numThreads: Number(args.threads),
});
const t0 = performance.now();
await stack.fit(train.select(features), label(train));
const fitMs = performance.now() - t0;
const yt = label(test);
const u = await stack.predictWithUncertainty(test.select(features));
const M = u.memberNames.length;
const members = Object.fromEntries(u.memberNames.map((n, m) => [n, auc(Float64Array.from({ length: test.numRows }, (_, i) => u.memberProbabilities[i * M + m]), yt)]));
const stackAuc = auc(u.probability, yt);
const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;
for (const [n, a] of Object.entries(members)) console.log(`${n.padEnd(14)} test AUC ${a.toFixed(5)}`);
console.log(`${'stack'.padEnd(14)} test AUC ${stackAuc.toFixed(5)} (best member ${Math.max(...Object.values(members)).toFixed(5)}); out-of-fold meta AUC ${stack.training.oof.meta.auc.toFixed(5)}`);
console.log(`uncertainty: mean disagreement ${mean(u.disagreement).toFixed(4)}, mean confidence ${mean(u.confidence).toFixed(4)}; fit ${(fitMs / 1000).toFixed(1)} s`);
console.log(JSON.stringify({ bench: 'adult-stack', stackAuc, members, oofMetaAuc: stack.training.oof.meta.auc, fitSeconds: fitMs / 1000, threads: Number(args.threads), calibrate: args.calibrate, machine: machine() }));
