// The configuration of one trial: task, model, training, probes, and who trains it (the built-in
// engine or a command trainer with its free-form params). Everything a worker needs to reproduce
// a run, given the seed. Validated with zod; defaults make a small, fast trial.
import { isAbsolute, resolve } from 'node:path';
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

/** Your own training command, spoken to over the trainer protocol (docs/trainer-protocol.md). */
export const CommandTrainerConfig = z
  .object({
    command: z
      .array(z.string().min(1), {
        error: 'an argv list such as [python3, train.py], never a shell string',
      })
      .min(1, 'needs at least the program to run')
      .describe('argv of the training command (never a shell string); argv[0] is looked up on PATH'),
    cwd: z
      .string()
      .min(1)
      .optional()
      .describe(
        "working directory of the command; when the spec is loaded from a file, a relative path resolves against the spec file's directory, and the default is that directory",
      ),
    env: z
      .record(z.string(), z.string())
      .default({})
      .describe("variables added to the worker's environment for the command"),
    timeout_s: z
      .number()
      .gt(0)
      .default(600)
      .describe('no protocol frame for this many seconds: the trainer is killed as hung'),
    stop_grace_s: z
      .number()
      .min(0)
      .default(10)
      .describe(
        'seconds between SIGTERM and SIGKILL to the trainer, and to wait for its next report on a hand-over',
      ),
  })
  .strict();

export const TrainerConfig = z
  .union([z.literal('builtin'), CommandTrainerConfig], {
    error: 'expected "builtin" or { command: [argv, ...] }',
  })
  .default('builtin')
  .describe('"builtin" (the TensorFlow.js engine) or a command trainer');

export const ResourceConfig = z
  .object({
    gpu: z.number().int().min(0).default(0).describe('GPUs set aside for each trial'),
  })
  .strict();

export const TrialConfig = z
  .object({
    task: TaskConfig.prefault({ kind: 'clustered-tokens' }),
    model: ModelConfig.prefault({}),
    train: TrainConfig.prefault({}),
    probes: ProbeConfig.prefault({}),
    engine: z.string().default('auto'),
    trainer: TrainerConfig,
    params: z
      .record(z.string(), z.json())
      .default({})
      .describe(
        'free-form hyperparameters for a command trainer (ignored by the built-in engine); axes name them params.<key>',
      ),
    resources: ResourceConfig.prefault({}),
  })
  .strict();

export type TrialConfig = z.output<typeof TrialConfig>;
export type TrialConfigInput = z.input<typeof TrialConfig>;
export type TaskConfig = z.output<typeof TaskConfig>;
export type CommandTrainerConfig = z.output<typeof CommandTrainerConfig>;

/** The command trainer of a config, or undefined for the built-in engine. */
export function commandTrainer(config: TrialConfig): CommandTrainerConfig | undefined {
  return config.trainer === 'builtin' ? undefined : config.trainer;
}

/**
 * The config with a command trainer's `cwd` made absolute against `baseDir` (the spec file's
 * directory; also the default). Built-in configs come back unchanged.
 */
export function resolveTrainerPaths(config: TrialConfig, baseDir: string): TrialConfig {
  const t = commandTrainer(config);
  if (t === undefined || (t.cwd !== undefined && isAbsolute(t.cwd))) return config;
  return { ...config, trainer: { ...t, cwd: resolve(baseDir, t.cwd ?? '.') } };
}
