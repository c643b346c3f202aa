import type { Command } from 'commander';
import os from 'node:os';
import { duckdbVersion, KILN_VERSION, nativeInfo, addonPath } from '../../src/index.js';
import { action, EXIT, printJson, withExamples } from '../common.js';

/** What `kiln doctor` reports about this machine and build. */
export interface DoctorReport {
  ok: boolean;
  kiln: string;
  node: string;
  platform: string;
  addon: { loaded: boolean; path: string | null; error?: string };
  simdLevel: string | null;
  cudaCompiled: boolean | null;
  /** CUDA devices the addon sees (empty without the CUDA build or a GPU). */
  gpus: { name: string; memoryBytes: number; computeCapability: string }[];
  duckdb: string | null;
  cores: number;
  cpuModel: string;
  memoryBytes: number;
}

/** Collects the doctor report; never throws (problems are reported in the fields). */
export async function collectDoctor(): Promise<DoctorReport> {
  const report: DoctorReport = {
    ok: true,
    kiln: KILN_VERSION,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    addon: { loaded: false, path: null },
    simdLevel: null,
    cudaCompiled: null,
    gpus: [],
    duckdb: null,
    cores: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryBytes: os.totalmem(),
  };
  try {
    const info = nativeInfo();
    report.addon = { loaded: true, path: addonPath() };
    report.simdLevel = info.simdLevel;
    report.cudaCompiled = info.cudaCompiled;
    report.gpus = info.gpus;
  } catch (err) {
    report.ok = false;
    report.addon.error = (err as Error).message;
  }
  try {
    report.duckdb = await duckdbVersion();
  } catch (err) {
    report.ok = false;
    report.duckdb = `error: ${(err as Error).message}`;
  }
  return report;
}

/** Registers `kiln doctor`. */
export function registerDoctor(program: Command): void {
  const cmd = program
    .command('doctor')
    .description('Check the installation: Node, native addon, SIMD level, CUDA and GPUs, DuckDB, cores and memory (exit 1 when something is broken)')
    .option('--json', 'machine-readable report on stdout')
    .action(
      action(async (flags: { json?: boolean }) => {
        const r = await collectDoctor();
        if (flags.json) printJson(r);
        else {
          const gib = (b: number): string => `${(b / 2 ** 30).toFixed(1)} GiB`;
          const mark = (ok: boolean): string => (ok ? 'ok ' : 'ERR');
          process.stdout.write(
            [
              `kiln ${r.kiln} on node ${r.node} (${r.platform})`,
              `${mark(r.addon.loaded)} native addon  ${r.addon.loaded ? r.addon.path : r.addon.error}`,
              `${mark(r.simdLevel !== null)} SIMD level    ${r.simdLevel ?? 'unknown'}`,
              `    CUDA         ${r.cudaCompiled === null ? 'unknown' : r.cudaCompiled ? 'compiled in' : 'not compiled (CPU only; KILN_CUDA=1 npm install builds it)'}`,
              ...(r.cudaCompiled
                ? r.gpus.length === 0
                  ? ['    GPU          none usable (no driver or no device): device auto trains on the CPU']
                  : r.gpus.map((g, i) => `    GPU ${i}        ${g.name}, ${gib(g.memoryBytes)}, compute capability ${g.computeCapability}`)
                : []),
              `${mark(!String(r.duckdb).startsWith('error'))} DuckDB       ${r.duckdb}`,
              `    CPU          ${r.cpuModel}, ${r.cores} cores, ${gib(r.memoryBytes)}`,
            ].join('\n') + '\n',
          );
        }
        return r.ok ? EXIT.OK : EXIT.GATE;
      }),
    );
  withExamples(cmd, 'kiln doctor', 'kiln doctor --json');
}
