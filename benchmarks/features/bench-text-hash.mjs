#!/usr/bin/env node
// Throughput of the native text_hash kernel on short strings (merchant-like descriptions,
// 20-40 bytes): textHash with 2^12 buckets, bigrams, IDF and L2 (the ledger example's settings),
// on 1 and on all threads. Anchor, same run: a plain JS tokeniser over the same strings
// (toLowerCase + split on non-letters, no hashing). Rounds are interleaved; medians reported.
//
//   npm run build:native && npm run build:ts
//   node benchmarks/features/bench-text-hash.mjs [--strings 1000000] [--rounds 5]
import os from 'node:os';
import { textHash } from '../../dist/bindings/index.js';
import { flag, machine, median } from '../lib.mjs';

const n = Number(flag('--strings', '1000000'));
const rounds = Number(flag('--rounds', '5'));
const WORDS = ['AMAZON', 'Mktp', 'starbucks', 'Shell', 'OIL', 'netflix.com', 'Uber', 'TRIP', 'Whole', 'Foods', 'PAYPAL', 'inst', 'xfer', 'Spotify', 'USA'];
const strings = [];
for (let i = 0; i < n; i++) strings.push(`${WORDS[i % 15]} ${WORDS[(i * 7 + 3) % 15]} #${(i * 2654435761) % 100000} ${WORDS[(i * 11 + 5) % 15]}`);
const enc = new TextEncoder();
const parts = strings.map((s) => enc.encode(s));
const offsets = new Int32Array(n + 1);
parts.forEach((p, i) => (offsets[i + 1] = offsets[i] + p.length));
const values = new Uint8Array(offsets[n]);
parts.forEach((p, i) => values.set(p, offsets[i]));
const column = { values, offsets, validity: null, rows: n };
const idf = Float64Array.from({ length: 4096 }, (_, b) => 1 + (b % 7) / 7);

const times = { js: [], native1: [], nativeAll: [] };
let tokens = 0;
for (let r = 0; r < rounds; r++) {
  let t = performance.now();
  tokens = 0;
  for (const s of strings) tokens += s.toLowerCase().split(/[^a-z]+/).filter(Boolean).length;
  times.js.push(performance.now() - t);
  for (const [k, numThreads] of [['native1', 1], ['nativeAll', 0]]) {
    t = performance.now();
    const out = await textHash(column, { bits: 12, bigrams: true, l2: true, idf, numThreads });
    times[k].push(performance.now() - t);
    if (out.indptr.length !== n + 1) throw new Error('bad output');
  }
}
const rate = (ms) => Math.round(n / (ms / 1000));
const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
console.log(JSON.stringify({
  strings: n, avgBytes: +(values.length / n).toFixed(1), tokensPerString: +(tokens / n).toFixed(2), threads: os.availableParallelism(),
  stringsPerS: { jsTokeniserAnchor: rate(m.js), native1Thread: rate(m.native1), nativeAllThreads: rate(m.nativeAll) },
  ratioVsAnchor: { native1Thread: +(m.js / m.native1).toFixed(2), nativeAllThreads: +(m.js / m.nativeAll).toFixed(2) },
  medianMs: Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Math.round(v)])),
  machine: machine(),
}));
