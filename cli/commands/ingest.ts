import type { Command } from 'commander';
import { Option } from 'commander';
import fs from 'node:fs';
import { ingestFile, RunReceipt, writeReceipt, KilnError, type IngestSummary } from '../../src/index.js';
import { action, EXIT, intOption, numberOption, printJson, withCancellation, withExamples } from '../common.js';
import { createProgress, wantsLiveProgress } from '../ui/progress.js';

interface IngestFlags {
  schema: string;
  out: string;
  rejects: string;
  requireLabel?: boolean;
  consentScope?: 'care' | 'research';
  maxBytes: number;
  maxRejectRate: number;
  json?: boolean;
}

/** Runs an ingest with progress and a receipt; returns the summary and the receipt path. */
export async function runIngest(input: string, flags: IngestFlags): Promise<{ summary: IngestSummary; receiptPath: string }> {
  return withCancellation((signal) => runIngestUntil(input, flags, signal));
}

async function runIngestUntil(input: string, flags: IngestFlags, signal: AbortSignal): Promise<{ summary: IngestSummary; receiptPath: string }> {
  const config = {
    schema: flags.schema,
    requireLabel: Boolean(flags.requireLabel),
    consentScope: flags.consentScope ?? null,
    maxBytes: flags.maxBytes,
    maxRejectRate: flags.maxRejectRate,
  };
  if (!fs.existsSync(input)) throw new KilnError('E_IO', `cannot read input ${input}: no such file`, { file: input });
  const receipt = await RunReceipt.start('ingest', { config, inputs: [input] });
  if (signal.aborted) throw new KilnError('E_CANCELLED', 'ingest cancelled');
  const progress = createProgress({ live: wantsLiveProgress(Boolean(flags.json)) });
  let summary: IngestSummary;
  try {
    progress.update({ stage: 'ingest', done: 0, total: 1, unit: 'B' });
    summary = await ingestFile(input, {
      signal,
      schema: flags.schema,
      out: flags.out,
      rejects: flags.rejects,
      requireLabel: flags.requireLabel,
      consentScope: flags.consentScope,
      maxBytes: flags.maxBytes,
      maxRejectRate: flags.maxRejectRate,
      onProgress: (p) =>
        progress.update({ stage: 'ingest', done: p.bytesRead, total: p.totalBytes, unit: 'B', counters: { read: p.read, accepted: p.accepted, rejected: p.rejected } }),
    });
  } finally {
    await progress.stop();
  }
  const outputs = summary.out ? [summary.out, summary.rejects] : [summary.rejects];
  const record = await receipt.finish({
    outputs,
    counts: { read: summary.read, accepted: summary.accepted, rejected: summary.rejected },
    status: summary.gate === 'passed' ? 'ok' : 'gate_failed',
    extra: { byCode: summary.byCode, rejectRate: summary.rejectRate },
  });
  // A failed gate publishes no --out, so its receipt goes beside the rejects it did publish.
  const receiptPath = await writeReceipt(record, summary.gate === 'passed' ? flags.out : flags.rejects);
  return { summary, receiptPath };
}

/** Human summary of an ingest run. */
export function formatIngestSummary(s: IngestSummary, receiptPath: string): string {
  const pct = (x: number): string => `${(x * 100).toFixed(2)} %`;
  const n = (x: number): string => x.toLocaleString('en-US');
  const lines = [
    `ingest ${s.input}`,
    `  read      ${n(s.read)}`,
    `  accepted  ${n(s.accepted)}${s.out ? `  → ${s.out}` : ''}`,
    `  rejected  ${n(s.rejected)}  (${pct(s.rejectRate)}, limit ${pct(s.maxRejectRate)})  → ${s.rejects}`,
  ];
  for (const [code, count] of Object.entries(s.byCode)) if (count > 0) lines.push(`    ${code.padEnd(15)} ${n(count)}`);
  lines.push(`  speed     ${n(Math.round(s.eventsPerSecond))} events/s`);
  lines.push(s.gate === 'passed' ? '  gate      passed' : `  gate      FAILED: reject rate ${pct(s.rejectRate)} > ${pct(s.maxRejectRate)}; --out was not written`);
  lines.push(`  receipt   ${receiptPath}`);
  return lines.join('\n');
}

/** Registers `kiln ingest`. */
export function registerIngest(program: Command): void {
  const cmd = program
    .command('ingest')
    .description('Validate NDJSON events against a JSON Schema, fail closed: accepted to --out, every reject (line, code, pointer, message) to --rejects')
    .argument('<input>', 'NDJSON file, one event per line')
    .requiredOption('--schema <ref>', 'schema file or builtin:<name> (e.g. builtin:byte-event)')
    .requiredOption('--out <file>', 'accepted records (.ndjson or .parquet)')
    .requiredOption('--rejects <file>', 'rejected records with reasons (NDJSON)')
    .option('--require-label', 'reject events without payload.label (E_NO_LABEL)')
    .addOption(new Option('--consent-scope <scope>', 'accept only events consented for this scope').choices(['care', 'research']))
    .option('--max-bytes <n>', 'reject lines longer than this (E_TOO_LARGE)', intOption('--max-bytes', 2), 16384)
    .option('--max-reject-rate <rate>', 'exit 1 and publish no --out when rejected/read exceeds this', numberOption('--max-reject-rate', 0, 1), 0.01)
    .option('--json', 'machine-readable summary on stdout')
    .action(
      action(async (input: string, flags: IngestFlags) => {
        const { summary, receiptPath } = await runIngest(input, flags);
        if (flags.json) printJson({ ok: summary.gate === 'passed', ...summary, receipt: receiptPath });
        else process.stdout.write(formatIngestSummary(summary, receiptPath) + '\n');
        return summary.gate === 'passed' ? EXIT.OK : EXIT.GATE;
      }),
    );
  withExamples(
    cmd,
    'kiln ingest events.ndjson --schema builtin:byte-event --out accepted.parquet --rejects rejects.ndjson',
    'kiln ingest events.ndjson --schema builtin:byte-event --out ok.ndjson --rejects bad.ndjson --require-label --consent-scope research --max-reject-rate 0.05 --json',
  );
}
