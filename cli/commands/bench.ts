import type { Command } from 'commander';
import { KilnError, PERF_KERNELS, readPerfResults, runBenchmarks, runPerf, writePerfResults, type BenchReport, type BenchmarkEntry, type PerfRun, type PerfProfile } from '../../src/index.js';
import { action, EXIT, formatTable, intOption, numberOption, printJson, withCancellation, withExamples } from '../common.js';

interface BenchFlags {
  models?: string;
  validationData?: string;
  output?: string;
  target?: string;
  symbol?: string;
  entity?: string;
  history?: string;
  regressionThreshold?: number;
  latencyRegressionThreshold?: number;
  f1Target?: number;
  maxLatencyMs?: number;
  warmup?: number;
  repetitions?: number;
  latencyRows?: number;
  rowLimit?: number;
  null?: string[];
  delimiter?: string;
  store?: string;
  json?: boolean;
}

interface PerfFlags {
  baseline?: string;
  save?: string;
  reps?: number;
  quick?: boolean;
  threshold?: number;
  threads?: number;
  kernels?: string[];
  seed?: number;
  json?: boolean;
}

const f4 = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : v.toFixed(4));
const ms = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : v < 1 ? v.toFixed(4) : v.toFixed(2));

function progressLine(done: number, total: number, b: BenchmarkEntry): string {
  if (b.status === 'failed') return `kiln: bench [${done}/${total}] ${b.model}: FAILED ${b.error?.code}: ${b.error?.message}`;
  return `kiln: bench [${done}/${total}] ${b.model}: f1 ${f4(b.f1_score)}, auc ${f4(b.auc)}, latency p50 ${ms(b.latency?.median_ms)} ms p99 ${ms(b.latency?.p99_ms)} ms, ${Math.round(b.throughput?.rows_per_second ?? 0)} rows/s`;
}

/** Human summary of a benchmark report. */
export function formatBenchReport(r: BenchReport, output: string): string {
  const lines = [
    `bench ${r.models_source} on ${r.validation_data.path} (${r.validation_data.rows} rows${r.validation_data.symbol ? `, symbol ${r.validation_data.symbol}` : ''})`,
    `  models      ${r.summary.total_models}: ${r.summary.successful_benchmarks} benchmarked, ${r.summary.failed_benchmarks} failed, ${r.summary.models_with_regressions} with regressions`,
    '',
    formatTable(
      ['model', 'status', 'f1', 'precision', 'recall', 'accuracy', 'auc', 'p50 ms', 'p99 ms', 'rows/s'],
      r.benchmarks.map((b) => [b.model, b.status, f4(b.f1_score), f4(b.precision), f4(b.recall), f4(b.accuracy), f4(b.auc), ms(b.latency?.median_ms), ms(b.latency?.p99_ms), b.throughput ? String(Math.round(b.throughput.rows_per_second)) : '-'])
        .map((row) => row.map((c) => c ?? '-')),
    )
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n'),
    '',
  ];
  if (r.history) {
    lines.push(`  history     ${r.history.path} (${r.history.timestamp}): ${r.history.compared_models.length} model(s) compared`);
    for (const w of r.history.warnings) lines.push(`  warning     ${w}`);
  }
  for (const [model, rs] of Object.entries(r.regressions)) {
    for (const x of rs) lines.push(`  ${x.beyond_threshold ? 'REGRESSION' : 'worse     '}  ${model} ${x.metric}: ${x.previous} → ${x.current} (${(x.relative_change * 100).toFixed(2)} %${x.threshold === null ? ', not gated' : `, threshold ${(x.threshold * 100).toFixed(1)} %`})`);
  }
  const ps = r.performance_summary;
  lines.push(`  f1          avg ${f4(ps.avg_f1_score)}, max ${f4(ps.max_f1_score)}${ps.best_model ? ` (${ps.best_model})` : ''}`);
  const t = ps.target_achievement;
  if (t.f1_target !== null) lines.push(`  f1 target   ${t.f1_target}: ${t.models_meeting_f1_target}/${r.summary.successful_benchmarks} models meet it`);
  if (t.max_latency_ms !== null) lines.push(`  latency     p99 <= ${t.max_latency_ms} ms: ${t.models_meeting_latency_target}/${r.summary.successful_benchmarks} models meet it`);
  lines.push(`  report      ${output}`);
  lines.push(r.gate.passed ? '  gate        passed' : `  gate        FAILED\n${r.gate.failures.map((f) => `    - ${f}`).join('\n')}`);
  return lines.join('\n');
}

/** Human summary of a perf run. */
export function formatPerfRun(run: PerfRun, saved?: string): string {
  const r = run.results;
  const lines = [`bench perf (${r.profile}, ${r.reps} reps, ${r.threads} thread${r.threads === 1 ? '' : 's'}) on ${r.machine.cpuModel}, ${r.machine.simdLevel}, node ${r.machine.node}, kiln ${r.machine.kilnVersion}`];
  const c = run.comparison;
  if (!c) {
    lines.push(formatTable(['kernel', 'median ms', 'workload'], Object.entries(r.kernels).map(([k, v]) => [k, ms(v.medianMs), v.description])).split('\n').map((l) => `  ${l}`).join('\n'));
  } else {
    lines.push(
      formatTable(
        ['kernel', 'baseline ms', 'now ms', 'ratio', '95 % CI', 'verdict', 're-run'],
        c.kernels.map((k) => [
          k.kernel,
          ms(k.baselineMedianMs),
          ms(k.currentMedianMs),
          k.ratio.toFixed(3),
          `[${k.ci[0].toFixed(3)}, ${k.ci[1].toFixed(3)}]`,
          k.verdict,
          k.rerun ? `${k.rerun.ratio.toFixed(3)} [${k.rerun.ci[0].toFixed(3)}, ${k.rerun.ci[1].toFixed(3)}] ${k.confirmed ? 'CONFIRMED' : 'not confirmed'}` : '',
        ]),
      )
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    );
    if (c.unmatched.length > 0) lines.push(`  not in the baseline: ${c.unmatched.join(', ')}`);
  }
  for (const n of run.notes) lines.push(`  note        ${n}`);
  if (saved) lines.push(`  saved       ${saved}`);
  if (c) lines.push(c.passed ? `  gate        passed (threshold ${(c.threshold * 100).toFixed(0)} %)` : `  gate        FAILED: confirmed regression in ${c.regressions.join(', ')}`);
  return lines.join('\n');
}

/** Registers `kiln bench` (model benchmarks with regression gates) and `kiln bench perf` (kiln's own kernel timings). */
export function registerBench(program: Command): void {
  const cmd = program
    .command('bench')
    .description('Benchmark models on validation data (F1, precision, recall, accuracy, AUC, confusion, single-row latency, throughput) and gate on regressions against a previous report and on targets')
    .enablePositionalOptions()
    .option('--models <dir|registry:name>', 'a folder (every model.json under it, else every *.json model file in it), a model file, or registry:<name> (every version) / registry:<name>@<N>')
    .option('--validation-data <file>', 'labelled rows: CSV, Parquet or NDJSON with the models\' feature columns')
    .option('--output <file>', 'the report (JSON, schemas/benchmark-report.schema.json), written atomically with <file>.receipt.json')
    .option('--target <column>', 'label column (default: label, class, y or target)')
    .option('--symbol <value>', 'only rows whose entity column is this value, or a pair based on it (BTC selects BTC/USDT)')
    .option('--entity <column>', 'entity column of --symbol', 'symbol')
    .option('--history <file>', 'a previous report: metrics worse by more than the thresholds fail the gate (exit 1)')
    .option('--regression-threshold <x>', 'relative drop of F1, precision, recall, accuracy or AUC that fails (0.05 = 5 %)', numberOption('--regression-threshold', 0, 1), 0.05)
    .option('--latency-regression-threshold <x>', 'relative slowdown of median latency or throughput against --history that fails (default: reported, not gated)', numberOption('--latency-regression-threshold', 0, 1000))
    .option('--f1-target <x>', 'every benchmarked model needs F1 >= x (exit 1 otherwise)', numberOption('--f1-target', 0, 1))
    .option('--max-latency-ms <ms>', 'every benchmarked model needs p99 single-row latency <= ms (exit 1 otherwise)', numberOption('--max-latency-ms', 1e-9, 1e9))
    .option('--warmup <n>', 'untimed predictSync calls before timing', intOption('--warmup'), 200)
    .option('--repetitions <n>', 'timed single-row predictSync calls per model', intOption('--repetitions', 1), 2000)
    .option('--latency-rows <n>', 'distinct validation rows the latency loop cycles through', intOption('--latency-rows', 1), 256)
    .option('--row-limit <n>', 'read at most this many validation rows', intOption('--row-limit', 1))
    .option('--null <strings...>', 'CSV strings read as missing (default ? NA and empty)')
    .option('--delimiter <char>', 'CSV separator (default: detected)')
    .option('--store <file>', 'run store the benchmark is recorded in (default .kiln/kiln.duckdb, or $KILN_HOME/kiln.duckdb)')
    .option('--json', 'print the report on stdout')
    .action(
      action(async (flags: BenchFlags) => {
        const missing = (['models', 'validationData', 'output'] as const).filter((k) => flags[k] === undefined);
        if (missing.length > 0) {
          const names = missing.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
          throw new KilnError('E_USAGE', `kiln bench needs ${names.join(', ')} (see kiln bench --help)`);
        }
        const res = await withCancellation((signal) =>
          runBenchmarks({
            models: flags.models!,
            validationData: flags.validationData!,
            output: flags.output!,
            ...(flags.target !== undefined ? { target: flags.target } : {}),
            ...(flags.symbol !== undefined ? { symbol: flags.symbol } : {}),
            ...(flags.entity !== undefined ? { entity: flags.entity } : {}),
            ...(flags.history !== undefined ? { history: flags.history } : {}),
            regressionThreshold: flags.regressionThreshold,
            ...(flags.latencyRegressionThreshold !== undefined ? { latencyRegressionThreshold: flags.latencyRegressionThreshold } : {}),
            ...(flags.f1Target !== undefined ? { f1Target: flags.f1Target } : {}),
            ...(flags.maxLatencyMs !== undefined ? { maxLatencyMs: flags.maxLatencyMs } : {}),
            warmup: flags.warmup,
            repetitions: flags.repetitions,
            latencyRows: flags.latencyRows,
            ...(flags.rowLimit !== undefined ? { rowLimit: flags.rowLimit } : {}),
            ...(flags.null ? { nullStrings: flags.null } : {}),
            ...(flags.delimiter !== undefined ? { delimiter: flags.delimiter } : {}),
            ...(flags.store !== undefined ? { store: flags.store } : {}),
            signal,
            onModel: flags.json ? undefined : (done, total, b) => process.stderr.write(progressLine(done, total, b) + '\n'),
          }),
        );
        if (flags.json) printJson(res.report);
        else process.stdout.write(formatBenchReport(res.report, res.output) + '\n');
        return res.report.gate.passed ? EXIT.OK : EXIT.GATE;
      }),
    );
  withExamples(
    cmd,
    'kiln bench --models registry:adult --validation-data ../shared/datasets/adult/adult.test.csv --target class --output .kiln/benchmark_results.json',
    'kiln bench --models experiments/ --validation-data v.parquet --history previous.json --regression-threshold 0.05 --f1-target 0.70 --max-latency-ms 100 --output benchmark_results.json',
    'kiln bench --models models/ --validation-data ohlcv.csv --symbol BTC --target label --output bench.json --json',
  );

  const perf = cmd
    .command('perf')
    .description("Time kiln's own kernels (binning, GBDT train / predict / predictSync, logistic regression, text hashing) interleaved with repetitions; with --baseline, compare medians by a bootstrap CI and fail only on a regression a re-run confirms")
    .option('--baseline <file>', 'results saved by an earlier --save on the same CPU model (exit 2 for another CPU)')
    .option('--save <file>', 'write this run\'s results (with CPU model, cores, node, kiln version, SIMD level) for a later --baseline')
    .option('--reps <n>', 'timed repetitions per kernel, round-robin (default 15, 5 with --quick)', intOption('--reps', 2))
    .option('--quick', 'small workloads (smoke runs, tests); compares only with a --quick baseline')
    .option('--threshold <x>', 'relative slowdown a regression must exceed: the CI of now/baseline must lie above 1 + x', numberOption('--threshold', 0, 10), 0.1)
    .option('--threads <n>', 'native threads per kernel (compares only with the same count)', intOption('--threads', 1), 1)
    .option('--kernels <names...>', `only these kernels (${PERF_KERNELS.join(', ')})`)
    .option('--seed <n>', 'seed of the bootstrap resampling', intOption('--seed'), 42)
    .option('--json', 'machine-readable result on stdout')
    .action(
      action(async (flags: PerfFlags) => {
        const profile: PerfProfile = flags.quick ? 'quick' : 'full';
        const baseline = flags.baseline !== undefined ? readPerfResults(flags.baseline) : null;
        const log = flags.json ? undefined : (phase: 'run' | 'rerun', rep: number, reps: number) => process.stderr.write(`kiln: perf ${phase} ${rep}/${reps}\n`);
        const run = await runPerf({
          profile,
          threads: flags.threads,
          ...(flags.reps !== undefined ? { reps: flags.reps } : {}),
          ...(flags.kernels ? { kernels: flags.kernels } : {}),
          threshold: flags.threshold,
          seed: flags.seed,
          baseline,
          ...(flags.baseline !== undefined ? { baselineFile: flags.baseline } : {}),
          ...(log ? { onProgress: log } : {}),
        });
        if (flags.save) await writePerfResults(flags.save, run.results);
        if (flags.json) printJson({ ok: run.comparison?.passed ?? true, results: run.results, comparison: run.comparison, notes: run.notes, saved: flags.save ?? null });
        else process.stdout.write(formatPerfRun(run, flags.save) + '\n');
        return run.comparison && !run.comparison.passed ? EXIT.GATE : EXIT.OK;
      }),
    );
  withExamples(
    perf,
    'kiln bench perf --save .kiln/perf-baseline.json',
    'kiln bench perf --baseline .kiln/perf-baseline.json --threshold 0.1',
    'kiln bench perf --quick --reps 3 --json',
  );
}
