import type { Command } from 'commander';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { inspectFile, writeEventCorpus } from '../../src/index.js';
import { action, EXIT, intOption, printJson, withExamples } from '../common.js';
import { formatIngestSummary, runIngest } from './ingest.js';
import { formatProfile } from './data.js';

interface DemoFlags {
  dir: string;
  events: number;
  seed: number;
  json?: boolean;
}

/** Registers `kiln demo`: the quick-start job on generated data. */
export function registerDemo(program: Command): void {
  const cmd = program
    .command('demo')
    .description("Run kiln's main job end to end on generated data: seeded byte events (with realistic faults) → fail-closed ingest → Parquet → profile")
    .option('--dir <dir>', 'working folder for the generated input and the outputs', '.kiln/demo')
    .option('--events <n>', 'events to generate', intOption('--events', 1), 20000)
    .option('--seed <n>', 'seed of the generator', intOption('--seed'), 42)
    .option('--json', 'machine-readable summary on stdout')
    .action(
      action(async (flags: DemoFlags) => {
        await fsp.mkdir(flags.dir, { recursive: true });
        const input = path.join(flags.dir, 'events.ndjson');
        const out = path.join(flags.dir, 'events.parquet');
        const rejects = path.join(flags.dir, 'rejects.ndjson');
        if (!flags.json) process.stderr.write(`kiln: generating ${flags.events.toLocaleString('en-US')} events (seed ${flags.seed}) → ${input}\n`);
        await writeEventCorpus(input, { lines: flags.events, seed: flags.seed, faultRate: 0.004 });
        const { summary, receiptPath } = await runIngest(input, {
          schema: 'builtin:byte-event',
          out,
          rejects,
          maxBytes: 16384,
          maxRejectRate: 0.01,
          json: flags.json,
        });
        const profile = summary.out ? await inspectFile(out, { sampleRows: 3 }) : null;
        if (flags.json) printJson({ ok: summary.gate === 'passed', ingest: { ...summary, receipt: receiptPath }, profile });
        else {
          process.stdout.write(formatIngestSummary(summary, receiptPath) + '\n\n');
          if (profile) process.stdout.write(formatProfile(profile) + '\n');
        }
        return summary.gate === 'passed' ? EXIT.OK : EXIT.GATE;
      }),
    );
  withExamples(cmd, 'kiln demo', 'kiln demo --events 100000 --dir /tmp/kiln-demo --json');
}
