#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { EXIT, reportError } from './common.js';
import { registerData } from './commands/data.js';
import { registerDoctor } from './commands/doctor.js';
import { registerIngest } from './commands/ingest.js';
import { registerManifest } from './commands/manifest.js';
import { registerDemo } from './commands/demo.js';
import { registerRuns } from './commands/runs.js';
import { registerTrain } from './commands/train.js';
import { registerPredict } from './commands/predict.js';
import { registerFeedback } from './commands/feedback.js';
import { registerMonitor } from './commands/monitor.js';
import { registerFeatures } from './commands/features.js';
import { registerDrift } from './commands/drift.js';
import { registerBench } from './commands/bench.js';
import { KILN_VERSION } from '../src/index.js';

/** Builds the `kiln` program with every verb registered. */
export function buildProgram(): Command {
  const program = new Command('kiln')
    .description('kiln — fast, reproducible, auditable ML pipelines (native core, DuckDB data plane)')
    .version(KILN_VERSION)
    .showHelpAfterError('(run with --help for usage and examples)')
    // Options belong to the verb they follow (kiln bench --json vs kiln bench perf --json).
    .enablePositionalOptions()
    .exitOverride();
  program.addHelpText('after', '\nExamples:\n  $ kiln demo\n  $ kiln data inspect ../shared/datasets/adult/adult.data.csv --null "?"\n  $ kiln doctor --json\n');
  registerDemo(program);
  registerDoctor(program);
  registerData(program);
  registerIngest(program);
  registerManifest(program);
  registerRuns(program);
  registerTrain(program);
  registerPredict(program);
  registerFeedback(program);
  registerMonitor(program);
  registerFeatures(program);
  registerDrift(program);
  registerBench(program);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      const ok = err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version';
      if (!ok && process.argv.includes('--json')) {
        process.stdout.write(JSON.stringify({ ok: false, error: { code: 'E_USAGE', message: err.message } }, null, 2) + '\n');
      }
      process.exitCode = ok ? EXIT.OK : EXIT.USAGE;
      return;
    }
    process.exitCode = reportError(err, process.argv.includes('--json'));
  }
}

await main();
