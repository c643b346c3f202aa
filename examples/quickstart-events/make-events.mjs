// Writes examples/quickstart-events/events.parquet: 200 events on 2025-01-01 with label 1 and 200 on
// 2025-01-02 with label 0 (event_time, label, ip, placement_id), from a fixed seed.
//   node examples/quickstart-events/make-events.mjs   (after `npm run build`)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ColumnBatch, columnFromValues, writeBatches } from '../../dist/src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
let state = 20250101;
const rand = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const rows = { event_time: [], label: [], ip: [], placement_id: [] };
for (const [day, label] of [['2025-01-01', 1], ['2025-01-02', 0]]) {
  for (let i = 0; i < 200; i++) {
    const us = BigInt(Date.parse(`${day}T00:00:00Z`)) * 1000n + BigInt(Math.floor(rand() * 86_400)) * 1_000_000n;
    rows.event_time.push(us);
    rows.label.push(label);
    const priv = rand() < (label ? 0.7 : 0.2);
    rows.ip.push(priv ? `10.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${1 + Math.floor(rand() * 254)}` : `${11 + Math.floor(rand() * 180)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${1 + Math.floor(rand() * 254)}`);
    rows.placement_id.push(`pl-${1 + Math.floor(rand() * (label ? 3 : 5))}`);
  }
}
const batch = new ColumnBatch(
  [
    columnFromValues('event_time', 'timestamp_us', rows.event_time),
    columnFromValues('label', 'int32', rows.label),
    columnFromValues('ip', 'utf8', rows.ip),
    columnFromValues('placement_id', 'utf8', rows.placement_id),
  ],
  rows.label.length,
);
const out = path.join(here, 'events.parquet');
await writeBatches([batch], out);
console.log(`wrote ${batch.numRows} events to ${out}`);
