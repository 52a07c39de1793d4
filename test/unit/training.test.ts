import { describe, expect, it } from 'vitest';
import { TrialConfig, type TrialConfigInput } from '../../spec/index.js';
import { createEngine, runTrial, type EpochRecord } from '../../worker/training/index.js';

const tiny = (over: Partial<TrialConfigInput['train']> = {}): TrialConfig =>
  TrialConfig.parse({
    task: { kind: 'clustered-tokens', vocab: 32, clusters: 4, seq_len: 8, train_size: 256, val_size: 128 },
    model: { d_model: 16, heads: 2, layers: 1, ffn: 32 },
    train: { epochs: 20, lr: 0.01, ...over },
    probes: { probe_set: 32 },
  });

async function collect(config: TrialConfig, engineName: string, seed = 1) {
  const engine = await createEngine(engineName);
  const records: EpochRecord[] = [];
  const result = await runTrial({ config, seed, engine, onEpoch: (r) => void records.push(r) });
  return { result, records };
}

describe('runTrial', () => {
  it('learns a tiny clustered-tokens task on wasm', async () => {
    const t0 = performance.now();
    const { result, records } = await collect(tiny({ epochs: 40 }), 'wasm');
    console.log('ms', performance.now() - t0, records.at(-1));
    expect(result.status).toBe('completed');
    expect(records).toHaveLength(40);
    const first = records[0]!.probes;
    const last = records.at(-1)!.probes;
    expect(last.val_acc!).toBeGreaterThan(first.val_acc! + 0.2);
    expect(last.loss!).toBeLessThan(first.loss!);
  });
});
