// Worker-thread entry for analyseSeriesParallel: runs the per-trial part (events, segmentation)
// on the chunks it is sent and posts the results back in the same order.
import { parentPort } from 'node:worker_threads';
import { analyseTrial } from './analyze.js';
import type { AnalysisSpec } from './analysis-spec.js';
import type { TrialSeries } from './trials.js';

export interface TrialChunk {
  id: number;
  spec: AnalysisSpec;
  trials: TrialSeries[];
}

parentPort?.on('message', (msg: TrialChunk) => {
  parentPort!.postMessage({ id: msg.id, results: msg.trials.map((t) => analyseTrial(t, msg.spec)) });
});
