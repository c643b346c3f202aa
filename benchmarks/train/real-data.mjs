// Issue 5 §8: kiln train on the shared real datasets through the CLI, as a user runs it.
// Prints one table and, last, one JSON line. Anchors from the same run: ECE before calibration
// (bank), the single GBDT run (adult, for the stack). Usage: node benchmarks/train/real-data.mjs
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { BENCH_DIR, machine } from '../lib.mjs';

const ROOT = path.resolve(BENCH_DIR, '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'kiln.js');
const DATA = path.resolve(ROOT, '..', 'shared', 'datasets');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-bench-train-'));
const env = { ...process.env, KILN_HOME: path.join(work, 'home'), CI: 'true' };

function kiln(args) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env, maxBuffer: 64 << 20 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`kiln ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return { out: r.stdout, seconds };
}

function train(args) {
  const r = kiln(['train', '--json', '--out-dir', path.join(work, 'experiments'), ...args]);
  const summary = JSON.parse(r.out);
  const metrics = JSON.parse(fs.readFileSync(path.join(summary.experiment, 'metrics.json'), 'utf8'));
  return { summary, metrics, seconds: r.seconds };
}

function writeConfig(name, doc) {
  const file = path.join(work, name);
  fs.writeFileSync(file, JSON.stringify(doc));
  return file;
}

try {
  const adultArgs = ['--data', path.join(DATA, 'adult', 'adult.data.csv'), '--test-data', path.join(DATA, 'adult', 'adult.test.csv'), '--target', 'class'];
  const adult = train(adultArgs);
  const stack = train([...adultArgs, '--model', 'stack']);
  const bankCfg = writeConfig('bank.json', { version: 1, name: 'bank', data: { target: 'y', exclude: ['duration'] }, split: { kind: 'stratified', valid: 0.2, test: 0.2 }, calibration: { method: 'isotonic' } });
  const bank = train(['--data', path.join(DATA, 'bank_marketing', 'bank-full.csv'), '--config', bankCfg]);
  const features = path.join(work, 'crypto-features');
  kiln(['features', path.join(ROOT, 'examples', 'crypto', 'features.yaml'), '--out-dir', features]);
  const cryptoCfg = writeConfig('crypto.json', { version: 1, name: 'btc_up', model: { kind: 'gbdt', params: { nEstimators: 100, numLeaves: 15 } } });
  const crypto = kiln(['train', '--data', features, '--config', cryptoCfg, '--output', path.join(work, 'results.json'), '--symbol', 'BTC', '--verbose', '--out-dir', path.join(work, 'experiments')]);
  const cryptoRes = JSON.parse(fs.readFileSync(path.join(work, 'results.json'), 'utf8'));

  const bestMember = Object.entries(stack.summary.members.rocAuc).sort((a, b) => b[1] - a[1])[0];
  const rows = [
    ['adult, GBDT defaults (isotonic, F1 threshold): test AUC', adult.summary.metrics.test.rocAuc, '>= 0.92', adult.seconds],
    ['adult, stack (default members), isotonic: test AUC', stack.summary.metrics.test.rocAuc, `>= best member`, stack.seconds],
    ['adult, stack before calibration: test AUC', stack.summary.members.stackRocAucUncalibrated, '>= best member', null],
    [`adult, best stack member (${bestMember[0]}, anchor): test AUC`, bestMember[1], '', null],
    ['bank_marketing without duration: test AUC', bank.summary.metrics.test.rocAuc, '>= 0.79', bank.seconds],
    ['bank_marketing test ECE uncalibrated (anchor)', bank.metrics.calibration.before.ece, '', null],
    ['bank_marketing test ECE isotonic', bank.metrics.calibration.after.ece, '< anchor', null],
    ['crypto BTC (seed 004 CLI shape): test AUC', cryptoRes.metrics.test.rocAuc, 'runs, exit 0', crypto.seconds],
  ];
  for (const [name, v, target, s] of rows) console.log(`${name.padEnd(58)} ${v.toFixed(5)}  ${target.padEnd(18)} ${s === null ? '' : `${s.toFixed(1)} s`}`);
  console.log(JSON.stringify({
    machine: machine(),
    adultAuc: adult.summary.metrics.test.rocAuc,
    stackAuc: stack.summary.metrics.test.rocAuc,
    stackUncalibratedAuc: stack.summary.members.stackRocAucUncalibrated,
    members: stack.summary.members.rocAuc,
    stackMinusBestMember: stack.summary.metrics.test.rocAuc - bestMember[1],
    bankAuc: bank.summary.metrics.test.rocAuc,
    bankEceBefore: bank.metrics.calibration.before.ece,
    bankEceAfter: bank.metrics.calibration.after.ece,
    eceRatio: bank.metrics.calibration.after.ece / bank.metrics.calibration.before.ece,
    cryptoAuc: cryptoRes.metrics.test.rocAuc,
    seconds: { adult: adult.seconds, stack: stack.seconds, bank: bank.seconds, crypto: crypto.seconds },
  }));
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
