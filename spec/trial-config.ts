// The configuration of one trial: task, model, training and probes. Everything a worker needs
// to reproduce a run, given the seed. Validated with zod; defaults make a small, fast trial.
import { z } from 'zod';

export const ClusteredTokensTask = z
  .object({
    kind: z.literal('clustered-tokens'),
    vocab: z.number().int().min(4).default(64),
    clusters: z.number().int().min(2).default(4),
    seq_len: z.number().int().min(2).default(8),
    train_size: z.number().int().min(8).default(512),
    val_size: z.number().int().min(8).default(256),
    label_noise: z.number().min(0).max(1).default(0),
  })
  .strict();

export const ModularAdditionTask = z
  .object({
    kind: z.literal('modular-addition'),
    modulus: z.number().int().min(3).default(23),
    train_fraction: z.number().gt(0).lt(1).default(0.4),
  })
  .strict();

export const TaskConfig = z.discriminatedUnion('kind', [ClusteredTokensTask, ModularAdditionTask]);

export const ModelConfig = z
  .object({
    d_model: z.number().int().min(2).default(32),
    heads: z.number().int().min(1).default(1),
    layers: z.number().int().min(1).default(1),
    ffn: z.number().int().min(1).default(128),
  })
  .strict()
  .refine((m) => m.d_model % m.heads === 0, {
    message: 'd_model must be divisible by heads',
    path: ['heads'],
  });

export const TrainConfig = z
  .object({
    epochs: z.number().int().min(1).default(30),
    lr: z.number().gt(0).default(0.01),
    weight_decay: z.number().min(0).default(0),
    weight_decay_start_epoch: z.number().int().min(0).default(0),
    noise: z.number().min(0).default(0),
    early_stop_epoch: z.number().int().min(0).nullable().default(null),
    batch_size: z.number().int().min(1).nullable().default(null),
  })
  .strict();

export const ProbeConfig = z
  .object({
    every: z.number().int().min(1).default(1),
    noise_scale: z.number().min(0).default(0.1),
    probe_set: z.number().int().min(1).default(64),
  })
  .strict();

export const TrialConfig = z
  .object({
    task: TaskConfig.prefault({ kind: 'clustered-tokens' }),
    model: ModelConfig.prefault({}),
    train: TrainConfig.prefault({}),
    probes: ProbeConfig.prefault({}),
    engine: z.string().default('auto'),
  })
  .strict();

export type TrialConfig = z.output<typeof TrialConfig>;
export type TrialConfigInput = z.input<typeof TrialConfig>;
export type TaskConfig = z.output<typeof TaskConfig>;
