// The analysis with the per-trial work (events, Dynp and PELT segmentation: the O(T²) part)
// spread over worker threads; families are then computed on the main thread. Same result as
// analyseSeries, trial for trial.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { analyseFamilies, type AnalysisResult, type TrialResult } from './analyze.js';
import { resolveAnalysisSpec, type AnalysisSpec } from './analysis-spec.js';
import { axisNames, type TrialSeries } from './trials.js';
import type { TrialChunk } from './trial-worker.js';

export interface ParallelOptions {
  /** Worker threads; default: the machine's available parallelism. */
  threads?: number;
  /** Trials per message: small enough to balance the load, large enough to amortise copying. */
  chunkSize?: number;
}

export async function analyseSeriesParallel(
  trials: readonly TrialSeries[],
  spec: AnalysisSpec = resolveAnalysisSpec(),
  options: ParallelOptions = {},
): Promise<AnalysisResult> {
  const threads = Math.max(
    1,
    Math.min(options.threads ?? availableParallelism(), Math.ceil(trials.length / 8)),
  );
  const chunkSize = Math.max(1, options.chunkSize ?? Math.ceil(trials.length / (threads * 8)));
  const chunks: TrialSeries[][] = [];
  for (let i = 0; i < trials.length; i += chunkSize) chunks.push(trials.slice(i, i + chunkSize));
  const results: TrialResult[][] = new Array<TrialResult[]>(chunks.length);
  let nextChunk = 0;
  const url = new URL('./trial-worker.js', import.meta.url);

  const runWorker = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const worker = new Worker(url);
      const send = () => {
        if (nextChunk >= chunks.length) {
          void worker.terminate().then(() => resolve(), reject);
          return;
        }
        const id = nextChunk++;
        const msg: TrialChunk = { id, spec, trials: chunks[id]! };
        worker.postMessage(msg);
      };
      worker.on('message', (m: { id: number; results: TrialResult[] }) => {
        results[m.id] = m.results;
        send();
      });
      worker.on('error', reject);
      send();
    });

  await Promise.all(Array.from({ length: threads }, runWorker));
  const flat = results.flat();
  return { trials: flat, families: analyseFamilies(flat, spec, axisNames(trials)) };
}
