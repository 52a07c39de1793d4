// What a command trainer starts with: the worker's environment, the spec's `env`, the protocol
// variables, and the GPUs set aside for it. Pure.
import type { CommandTrainerConfig } from '../../../spec/index.js';
import { PROTOCOL_VERSION } from './protocol-violation.js';

/** The fd of the protocol channel in the trainer (stdio index 3). */
export const CHANNEL_FD = 3;

/** "cuda:0", "cuda:2" → "0,2"; other kinds of device are not CUDA's to show. */
export function cudaVisibleDevices(devices: readonly string[]): string {
  return devices
    .map((d) => /^cuda:(\d+)$/.exec(d)?.[1])
    .filter((i): i is string => i !== undefined)
    .join(',');
}

/** The `device` of the start frame (and the result's backend): cuda when GPUs were set aside. */
export function trainerDevice(devices: readonly string[]): 'cpu' | 'cuda' {
  return cudaVisibleDevices(devices) === '' ? 'cpu' : 'cuda';
}

export interface TrainerEnvOptions {
  trainer: CommandTrainerConfig;
  trialId: string;
  attempt: number;
  devices: readonly string[];
  /** GPUs the trial asked for (resources.gpu). */
  gpus: number;
}

export function trainerEnv(base: NodeJS.ProcessEnv, o: TrainerEnvOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  Object.assign(env, o.trainer.env, {
    PHASESWEEP_FD: String(CHANNEL_FD),
    PHASESWEEP_PROTOCOL: String(PROTOCOL_VERSION),
    PHASESWEEP_TRIAL_ID: o.trialId,
    PHASESWEEP_ATTEMPT: String(o.attempt),
  });
  const visible = cudaVisibleDevices(o.devices);
  // A trial given GPUs sees just those; one that asked for none sees none. One that asked for
  // GPUs on a coordinator that set none aside keeps what the worker sees.
  if (visible !== '') env['CUDA_VISIBLE_DEVICES'] = visible;
  else if (o.gpus === 0) env['CUDA_VISIBLE_DEVICES'] = '';
  return env;
}
