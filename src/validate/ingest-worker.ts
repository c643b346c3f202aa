import { parentPort, workerData } from 'node:worker_threads';
import { makeJudge, type JudgeOptions } from './judge.js';

/** A unit of lines sent by the ingest main thread. */
interface UnitMessage {
  unit: number;
  buf: ArrayBuffer;
  offsets: Int32Array;
}

const judge = makeJudge(workerData as JudgeOptions);

parentPort!.on('message', (msg: UnitMessage) => {
  try {
    const v = judge(Buffer.from(msg.buf), msg.offsets);
    parentPort!.postMessage({ unit: msg.unit, buf: msg.buf, verdicts: v }, [msg.buf, v.codes.buffer as ArrayBuffer, v.bodyStart.buffer as ArrayBuffer, v.bodyEnd.buffer as ArrayBuffer]);
  } catch (err) {
    parentPort!.postMessage({ unit: msg.unit, buf: msg.buf, error: (err as Error).message }, [msg.buf]);
  }
});
