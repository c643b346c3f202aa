// DuckDB → ColumnBatch streaming throughput against DuckDB's own aggregate over the same columns,
// and peak RSS while streaming. Each trial runs in a fresh process; trials are interleaved.
//   node benchmarks/io/bench-scan.mjs [--rows 10000000] [--reps 3]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDataDir, machine, median, peakRssMB, trial } from '../lib.mjs';

const args = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const ROWS = Number(flag('--rows', 10_000_000));
const REPS = Number(flag('--reps', 3));
const FILE = path.join(ensureDataDir(), `scan-${ROWS}.parquet`);
const COLUMNS = ['id', 'x1', 'x2', 'x3', 'x4', 'f', 'k', 'cat'];

const lib = await import('../../dist/src/index.js');

if (args[0] === '--child') {
  const mode = args[1];
  const t0 = performance.now();
  let rows = 0;
  let batches = 0;
  if (mode === 'aggregate') {
    await lib.withConnection(async (c) => {
      const r = await c.runAndReadAll(
        `SELECT count(*), sum(id), sum(x1), sum(x2), sum(x3), sum(x4), sum(f), sum(k), min(cat) FROM read_parquet('${FILE}')`,
      );
      rows = Number(r.getRows()[0][0]);
    });
  } else {
    for await (const b of lib.scanFile(FILE, { engine: mode, columns: COLUMNS })) {
      rows += b.numRows;
      batches++;
    }
  }
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ mode, ms, rows, batches, peakRssMB: peakRssMB() }));
  process.exit(0);
}

if (!fs.existsSync(FILE)) {
  process.stderr.write(`generating ${ROWS.toLocaleString('en-US')} rows → ${FILE}\n`);
  await lib.copyQueryToFile(
    `SELECT i::BIGINT AS id, random() AS x1, random() * 100 AS x2, (i % 1000) / 7.0 AS x3,
            CASE WHEN i % 50 = 0 THEN NULL ELSE random() END AS x4, random()::FLOAT AS f,
            (i % 97)::INTEGER AS k, 'cat_' || (i % 8)::VARCHAR AS cat
     FROM range(${ROWS}) t(i)`,
    FILE,
  );
}

const self = fileURLToPath(import.meta.url);
const runs = { aggregate: [], native: [], js: [] };
const modes = process.env.KILN_BENCH_SKIP_JS ? ['aggregate', 'native'] : ['aggregate', 'native', 'js'];
trial(self, ['--child', 'aggregate', '--rows', String(ROWS)]); // warm the page cache
for (let r = 0; r < REPS; r++) {
  for (const m of modes) {
    const t = trial(self, ['--child', m, '--rows', String(ROWS)]);
    if (t.rows !== ROWS) throw new Error(`${m} read ${t.rows} rows, expected ${ROWS}`);
    runs[m].push(t);
    process.stderr.write(`  rep ${r + 1} ${m.padEnd(9)} ${t.ms.toFixed(0)} ms  peak RSS ${t.peakRssMB.toFixed(0)} MB\n`);
  }
}
const summary = {};
for (const m of modes) {
  const ms = median(runs[m].map((t) => t.ms));
  summary[m] = { medianMs: +ms.toFixed(1), rowsPerSec: Math.round(ROWS / (ms / 1000)), peakRssMB: +Math.max(...runs[m].map((t) => t.peakRssMB)).toFixed(0) };
}
const result = {
  bench: 'duckdb-to-columnbatch',
  rows: ROWS,
  columns: COLUMNS.length,
  reps: REPS,
  machine: machine(),
  ...summary,
  ratioNativeVsAggregate: +(summary.aggregate.medianMs / summary.native.medianMs).toFixed(3),
  ...(summary.js ? { ratioJsVsAggregate: +(summary.aggregate.medianMs / summary.js.medianMs).toFixed(3) } : {}),
};
console.log(JSON.stringify(result));
