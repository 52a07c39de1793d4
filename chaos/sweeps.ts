// The sweeps the fault run trains: waves of short trials on a tiny model, for the cluster and for
// the embedded run. The run's seed decides each wave's sweep_seed. Pure.
import { expandSweep, parseSweepYaml, type PlannedTrial } from '../spec/index.js';
import { ChaosRng } from './rng.js';

export type WaveMode = 'cluster' | 'embedded';

export interface Wave {
  mode: WaveMode;
  index: number;
  /** The sweep name, which is also its id. */
  name: string;
  yaml: string;
  trials: PlannedTrial[];
}

const WAVE_SHAPE: Readonly<Record<WaveMode, { firstSeeds: number; seeds: number; epochs: string }>> = {
  // 6 trials per seed: weight_decay × epochs. The first cluster wave is a few hundred trials;
  // later ones top the queue up while faults go on.
  cluster: { firstSeeds: 40, seeds: 20, epochs: '[20, 40, 60]' },
  embedded: { firstSeeds: 8, seeds: 8, epochs: '[30, 60]' },
};

export function waveSeed(runSeed: number, mode: WaveMode, index: number): number {
  return new ChaosRng(
    (runSeed * 31 + (mode === 'cluster' ? 1 : 2) * 1_000_003 + index * 7919) >>> 0,
  ).derive();
}

export function createWave(runSeed: number, mode: WaveMode, index: number): Wave {
  const shape = WAVE_SHAPE[mode];
  const name = `${mode}-${index}`;
  const yaml = `name: ${name}
sweep_seed: ${waveSeed(runSeed, mode, index)}
seeds: ${index === 0 ? shape.firstSeeds : shape.seeds}
base:
  task: { kind: clustered-tokens, vocab: 16, clusters: 4, seq_len: 6, train_size: 64, val_size: 32 }
  model: { d_model: 8, ffn: 16 }
  train: { epochs: 40, lr: 0.01, noise: 0.05 }
  probes: { probe_set: 8 }
axes:
  weight_decay: [0, 0.1]
  epochs: ${shape.epochs}
`;
  return { mode, index, name, yaml, trials: expandSweep(parseSweepYaml(yaml)) };
}
