// DuckDB → ColumnBatch streaming throughput against DuckDB's own aggregate over the same columns,
// and peak RSS while streaming. Each trial runs in a fresh process; trials are interleaved.
//   node benchmarks/io/bench-scan.mjs [--rows 10000000] [--reps 3] [--passes 3] [--stream-buffer BYTES]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDataDir, flag, machine, median, peakRssMB, trial } from '../lib.mjs';

const args = process.argv.slice(2);
const ROWS = Number(flag('--rows', 10_000_000));
const REPS = Number(flag('--reps', 3));
const PASSES = Number(flag('--passes', 3));
const STREAM_BUFFER = flag('--stream-buffer', undefined);
const FILE = path.join(ensureDataDir(), `scan-${ROWS}.parquet`);
const COLUMNS = ['id', 'x1', 'x2', 'x3', 'x4', 'f', 'k', 'cat'];

const lib = await import('../../dist/src/index.js');

if (args[0] === '--child') {
  // One process per trial: a cold pass, then warm passes (caches, thread pools and allocators
  // primed, as in a long-running job). Peak RSS covers all passes.
  const mode = args[1];
  const passes = [];
  for (let pass = 0; pass < PASSES; pass++) {
    const t0 = performance.now();
    let rows = 0;
    if (mode === 'aggregate') {
      await lib.withConnection(async (c) => {
        const r = await c.runAndReadAll(
          `SELECT count(*), sum(id), sum(x1), sum(x2), sum(x3), sum(x4), sum(f), sum(k), min(cat) FROM read_parquet('${FILE}')`,
        );
        rows = Number(r.getRows()[0][0]);
      });
    } else {
      const engine = mode === 'native-reuse' ? 'native' : mode;
      const reuseBuffers = mode === 'native-reuse';
      for await (const b of lib.scanFile(FILE, { engine, columns: COLUMNS, reuseBuffers, ...(STREAM_BUFFER ? { streamBufferBytes: Number(STREAM_BUFFER) } : {}) })) rows += b.numRows;
    }
    passes.push({ ms: performance.now() - t0, rows, peakRssMB: peakRssMB() });
  }
  console.log(JSON.stringify({ mode, passes, peakRssMB: peakRssMB() }));
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
const modes = process.env.KILN_BENCH_SKIP_JS ? ['aggregate', 'native', 'native-reuse'] : ['aggregate', 'native', 'native-reuse', 'js'];
const runs = Object.fromEntries(modes.map((m) => [m, []]));
trial(self, ['--child', 'aggregate', '--rows', String(ROWS), '--passes', '1']); // warm the page cache
for (let r = 0; r < REPS; r++) {
  for (const m of modes) {
    const t = trial(self, ['--child', m, '--rows', String(ROWS), '--passes', String(m === 'js' ? 1 : PASSES), ...(STREAM_BUFFER ? ['--stream-buffer', STREAM_BUFFER] : [])]);
    for (const p of t.passes) if (p.rows !== ROWS) throw new Error(`${m} read ${p.rows} rows, expected ${ROWS}`);
    runs[m].push(t);
    process.stderr.write(`  rep ${r + 1} ${m.padEnd(12)} ${t.passes.map((p) => p.ms.toFixed(0)).join(' / ')} ms  peak RSS ${t.passes[0].peakRssMB.toFixed(0)} MB after the first pass, ${t.peakRssMB.toFixed(0)} MB after all\n`);
  }
}
const summary = {};
for (const m of modes) {
  const cold = median(runs[m].map((t) => t.passes[0].ms));
  const warmPasses = runs[m].flatMap((t) => t.passes.slice(1).map((p) => p.ms));
  const warm = warmPasses.length ? median(warmPasses) : null;
  summary[m] = {
    coldMs: +cold.toFixed(1),
    warmMs: warm === null ? null : +warm.toFixed(1),
    rowsPerSecWarm: warm === null ? null : Math.round(ROWS / (warm / 1000)),
    peakRssOnePassMB: +Math.max(...runs[m].map((t) => t.passes[0].peakRssMB)).toFixed(0),
    peakRssAllPassesMB: +Math.max(...runs[m].map((t) => t.peakRssMB)).toFixed(0),
  };
}
const result = {
  bench: 'duckdb-to-columnbatch',
  rows: ROWS,
  columns: COLUMNS.length,
  reps: REPS,
  passes: PASSES,
  machine: machine(),
  ...summary,
  ratioNativeVsAggregateWarm: +(summary.aggregate.warmMs / summary.native.warmMs).toFixed(3),
  ratioNativeVsAggregateCold: +(summary.aggregate.coldMs / summary.native.coldMs).toFixed(3),
  ratioNativeReuseVsAggregateWarm: +(summary.aggregate.warmMs / summary['native-reuse'].warmMs).toFixed(3),
  ratioNativeReuseVsAggregateCold: +(summary.aggregate.coldMs / summary['native-reuse'].coldMs).toFixed(3),
  ...(summary.js ? { ratioJsVsAggregateCold: +(summary.aggregate.coldMs / summary.js.coldMs).toFixed(3) } : {}),
};
console.log(JSON.stringify(result));
