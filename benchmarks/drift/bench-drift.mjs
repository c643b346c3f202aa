// kiln drift vs the SciPy ks_2samp + NumPy histogram PSI loop, in one invocation on one machine,
// and the 10M x 100 Parquet run (time and peak RSS). Needs /usr/bin/python3 with scipy (anchor),
// a built addon (npm run build:native) and dist/ (npm run build:ts).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { ensureDataDir, flag, machine, median } from '../lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const PY = process.env.KILN_PYTHON ?? '/usr/bin/python3';

const USAGE = `Usage: node benchmarks/drift/bench-drift.mjs [--rows 1000000] [--cols 28] [--reps 1] [--threads 0] [--big] [--big-rows 10000000] [--big-cols 100]

KS + PSI (10 reference-quantile bins) for every column of a reference vs a current sample
(benchmarks/.data/drift-<rows>x<cols>-{ref,cur}.f64, made by anchor.py when missing): kiln's
driftNumeric (all cores) and anchor.py (scipy ks_2samp(method='asymp') + np.histogram PSI), each in
a fresh process, interleaved; loading is not timed on either side. --threads caps kiln's kernel
threads (default 0 = all cores; the anchor is single-threaded). Results are cross-checked.
--make-big only writes the Parquet files. --big also runs \`kiln drift\` on two <big-rows> x <big-cols> Parquet files (made with DuckDB when
missing) and reports wall time and peak RSS (/usr/bin/time).

Example:
  node benchmarks/drift/bench-drift.mjs --reps 3 --big`;

if (process.argv.includes('--help')) {
  console.log(USAGE);
  process.exit(0);
}

/** Child: loads the raw columns, times driftNumeric, prints one JSON line. */
async function child() {
  const [dir, rows, cols] = [flag('--dir'), Number(flag('--rows')), Number(flag('--cols'))];
  const { driftNumeric, driftSort } = await import(path.join(ROOT, 'dist/bindings/index.js'));
  const load = (side) => {
    const b = fs.readFileSync(path.join(dir, `drift-${rows}x${cols}-${side}.f64`));
    const all = new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8);
    return Array.from({ length: cols }, (_, c) => all.subarray(c * rows, (c + 1) * rows));
  };
  const ref = load('ref');
  const cur = load('cur');
  const t0 = performance.now();
  const numThreads = Number(flag('--threads', '0'));
  const r = await driftNumeric(ref, cur, { nBins: 10, mutateInputs: true, numThreads });
  const seconds = (performance.now() - t0) / 1000;
  // Fit-once monitoring: the reference sorted beforehand (FeatureDriftDetector.fit), only the
  // current sample sorted per check. Fresh copies: the first call sorted the inputs in place.
  const sortedRef = await driftSort(load('ref'));
  const cur2 = load('cur');
  const t1 = performance.now();
  await driftNumeric(sortedRef, cur2, { nBins: 10, referenceSorted: true, mutateInputs: true, numThreads });
  const secondsDetect = (performance.now() - t1) / 1000;
  console.log(JSON.stringify({ seconds, secondsDetect, ks: Array.from(r.ksStatistic, (d, i) => [d, r.ksPValue[i]]), psi: Array.from(r.psi), peakRssMB: process.resourceUsage().maxRSS / 1024 }));
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

function runQuiet(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status})`);
}

function makeBig(dir, rows, cols) {
  const files = ['ref', 'cur'].map((s) => path.join(dir, `drift-big-${rows}x${cols}-${s}.parquet`));
  if (files.every((f) => fs.existsSync(f))) return files;
  const script = `
    import { DuckDBInstance } from '@duckdb/node-api';
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const col = (k, side) => {
      const u1 = \`((hash(i, \${k}, \${side}) % 4294967291) + 1) / 4294967296.0\`;
      const u2 = \`(hash(i, \${k}, \${side} + 7) % 4294967291) / 4294967296.0\`;
      const shift = side === 1 && k % 4 === 0 ? 0.05 : 0;
      const scale = side === 1 && k % 7 === 0 ? 1.1 : 1;
      return \`round((\${shift} + sqrt(-2 * ln(\${u1})) * cos(2 * pi() * \${u2})) * \${scale}, 3) AS c\${k}\`;
    };
    for (const [side, file] of [[0, ${JSON.stringify(files[0])}], [1, ${JSON.stringify(files[1])}]]) {
      const cols = Array.from({ length: ${cols} }, (_, k) => col(k, side)).join(', ');
      await c.run(\`COPY (SELECT \${cols} FROM range(${rows}) t(i)) TO '\${file}.tmp' (FORMAT parquet, ROW_GROUP_SIZE 1000000)\`);
      (await import('node:fs')).renameSync(file + '.tmp', file);
    }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('making the Parquet files failed');
  return files;
}

async function main() {
  if (process.argv.includes('--child')) return child();
  if (process.argv.includes('--make-big')) {
    const files = makeBig(ensureDataDir(), Number(flag('--big-rows', '10000000')), Number(flag('--big-cols', '100')));
    console.log(JSON.stringify({ files }));
    return;
  }
  const rows = Number(flag('--rows', '1000000'));
  const cols = Number(flag('--cols', '28'));
  const reps = Number(flag('--reps', '1'));
  const dir = ensureDataDir();
  if (!fs.existsSync(path.join(dir, `drift-${rows}x${cols}-cur.f64`))) runQuiet(PY, [path.join(HERE, 'anchor.py'), '--make-data', dir, String(rows), String(cols)]);
  const kiln = [];
  const anchor = [];
  const detect = [];
  let check = null;
  for (let rep = 0; rep < reps; rep++) {
    const a = run(PY, [path.join(HERE, 'anchor.py'), dir, String(rows), String(cols)]);
    const k = run(process.execPath, [fileURLToPath(import.meta.url), '--child', '--dir', dir, '--rows', String(rows), '--cols', String(cols), '--threads', flag('--threads', '0')]);
    anchor.push(a.seconds);
    kiln.push(k.seconds);
    detect.push(k.secondsDetect);
    if (!check) {
      let ksD = 0, ksP = 0, psi = 0;
      a.ks.forEach(([d, p], i) => {
        ksD = Math.max(ksD, Math.abs(d - k.ks[i][0]));
        ksP = Math.max(ksP, Math.abs(p - k.ks[i][1]));
        psi = Math.max(psi, Math.abs(a.psi[i] - k.psi[i]));
      });
      check = { maxAbsDiff: { ksStatistic: ksD, ksPValue: ksP, psi }, kilnPeakRssMB: Math.round(k.peakRssMB) };
    }
  }
  const out = {
    machine: machine(),
    task: `${rows} x ${cols} reference vs current, KS + PSI per column`,
    kilnThreads: Number(flag('--threads', '0')) || 'all cores',
    anchorSeconds: anchor,
    kilnSeconds: kiln,
    medianAnchor: median(anchor),
    medianKiln: median(kiln),
    ratio: median(kiln) / median(anchor),
    speedup: median(anchor) / median(kiln),
    kilnDetectSeconds: detect,
    ratioDetectOnly: median(detect) / median(anchor),
    check,
  };
  console.log(JSON.stringify(out, null, 2));
  if (process.argv.includes('--big')) {
    const bigRows = Number(flag('--big-rows', '10000000'));
    const bigCols = Number(flag('--big-cols', '100'));
    const [refFile, curFile] = makeBig(dir, bigRows, bigCols);
    const report = path.join(dir, 'drift-big-report.json');
    const args = [path.join(ROOT, 'dist/cli/kiln.js'), 'drift', '--reference', refFile, '--current', curFile, '--method', 'ks,psi', '--out', report];
    const t0 = performance.now();
    const r = spawnSync('/usr/bin/time', ['-v', process.execPath, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' }, maxBuffer: 64 << 20 });
    const seconds = (performance.now() - t0) / 1000;
    const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
    const rep = JSON.parse(fs.readFileSync(report, 'utf8'));
    console.log(JSON.stringify({ task: `kiln drift on ${bigRows} x ${bigCols} Parquet (KS + PSI)`, exit: r.status, seconds, peakRssMB: rss ? Math.round(Number(rss[1]) / 1024) : null, drifted: rep.summary.drifted, features: rep.summary.features }, null, 2));
  }
}

await main();
