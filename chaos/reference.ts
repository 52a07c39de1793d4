// Uninterrupted reference runs: a trial trained here, in this process, with the same config,
// seed and engine the workers use. Training is deterministic per engine, so a resumed trial's
// stored series must equal this one bit for bit.
import type { PlannedTrial } from '../spec/index.js';
import { createEngine, runTrial, type Engine } from '../worker/training/index.js';
import { normalizeProbe, type ProbeRecord } from './verdict.js';

export class ReferenceRunner {
  private engine: Promise<Engine> | undefined;

  /** Every epoch's probes, normalised as the stores keep them. */
  async series(trial: PlannedTrial): Promise<ProbeRecord[]> {
    this.engine ??= createEngine('wasm');
    const engine = await this.engine;
    const out: ProbeRecord[] = [];
    await runTrial({
      config: trial.config,
      seed: trial.seed,
      engine,
      onEpoch: (rec) => {
        const probes: ProbeRecord = {};
        for (const [name, v] of Object.entries(rec.probes)) probes[name] = normalizeProbe(v);
        out[rec.epoch] = probes;
      },
    });
    return out;
  }
}
