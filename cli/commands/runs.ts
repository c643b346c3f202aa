import type { Command } from 'commander';
import { compareRuns, defaultRunStore, getRun, listRuns } from '../../src/index.js';
import { action, formatTable, intOption, printJson, withExamples } from '../common.js';

const fmt = (v: number | null | undefined): string => (v === null || v === undefined ? '–' : Math.abs(v) >= 1000 ? v.toFixed(0) : v.toPrecision(5));

/** Registers `kiln runs list | show | compare`: the run store, read back. */
export function registerRuns(program: Command): void {
  const runs = program.command('runs').description('Training runs recorded in the run store (.kiln/kiln.duckdb; query it with SQL too)');
  withExamples(runs, 'kiln runs list', 'kiln runs show 3f2a9c1e', 'kiln runs compare 3f2a9c1e 77d0b2aa --json');

  const list = runs
    .command('list')
    .description('Runs, newest first, with their test (else validation) metrics')
    .option('--limit <n>', 'at most this many runs', intOption('--limit', 1), 50)
    .option('--store <file>', 'run store file')
    .option('--json', 'JSON on stdout')
    .action(
      action(async (flags: { limit: number; store?: string; json?: boolean }) => {
        const rows = await listRuns(flags.store ?? defaultRunStore(), { limit: flags.limit });
        if (flags.json) return printJson({ ok: true, runs: rows });
        const metricNames = ['rocAuc', 'f1', 'logLoss', 'ece', 'rmse', 'r2'];
        const table = rows.map((r) => [
          r.runId.slice(0, 8), r.name, r.startedAt.replace('T', ' ').slice(0, 19), r.modelKind, r.task, r.status,
          ...metricNames.map((m) => fmt(r.metrics[m])),
        ]);
        process.stdout.write(formatTable(['run', 'name', 'started (UTC)', 'model', 'task', 'status', ...metricNames], table) + '\n');
      }),
    );
  withExamples(list, 'kiln runs list --limit 10', 'kiln runs list --json');

  const show = runs
    .command('show <run>')
    .description('One run (id, prefix or latest): record, parameters and metrics')
    .option('--store <file>', 'run store file')
    .option('--json', 'JSON on stdout')
    .action(
      action(async (id: string, flags: { store?: string; json?: boolean }) => {
        const r = await getRun(flags.store ?? defaultRunStore(), id);
        if (flags.json) return printJson({ ok: true, run: r });
        const lines = [`run ${r.runId}`, `  name      ${r.name}`, `  status    ${r.status}`, `  started   ${r.startedAt}`, `  folder    ${r.dir}`, `  model     ${r.modelKind} ${r.task}, sha256 ${r.modelSha256 ?? '–'}`, `  data      ${r.datasetId} (sha256 ${r.dataSha256.slice(0, 16)}…)`, `  seed      ${r.seed}`, '', 'metrics'];
        for (const [k, v] of Object.entries(r.metrics)) lines.push(`  ${k.padEnd(28)} ${fmt(v)}`);
        lines.push('', 'parameters');
        for (const [k, v] of Object.entries(r.params)) lines.push(`  ${k.padEnd(34)} ${v}`);
        process.stdout.write(lines.join('\n') + '\n');
      }),
    );
  withExamples(show, 'kiln runs show 3f2a9c1e');

  const compare = runs
    .command('compare <a> <b>')
    .description('Two runs side by side: differing parameters, every metric and b − a')
    .option('--store <file>', 'run store file')
    .option('--json', 'JSON on stdout')
    .action(
      action(async (a: string, b: string, flags: { store?: string; json?: boolean }) => {
        const c = await compareRuns(flags.store ?? defaultRunStore(), a, b);
        if (flags.json) return printJson({ ok: true, a: c.a.runId, b: c.b.runId, params: c.params, metrics: c.metrics });
        const lines = [`compare ${c.a.runId.slice(0, 8)} (a) with ${c.b.runId.slice(0, 8)} (b)`, ''];
        lines.push(formatTable(['metric', 'a', 'b', 'b − a'], c.metrics.map((m) => [m.name, fmt(m.a), fmt(m.b), m.delta === null ? '–' : (m.delta >= 0 ? '+' : '') + fmt(m.delta)])));
        lines.push('');
        lines.push(c.params.length === 0 ? 'parameters: identical' : formatTable(['parameter', 'a', 'b'], c.params.map((p) => [p.key, p.a ?? '–', p.b ?? '–'])));
        process.stdout.write(lines.join('\n') + '\n');
      }),
    );
  withExamples(compare, 'kiln runs compare 3f2a9c1e 77d0b2aa');
}
