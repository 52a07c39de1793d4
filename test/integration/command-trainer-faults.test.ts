// How a worker treats a command trainer that goes wrong: crashes and hangs fail the attempt
// (retried, with the output's last lines), protocol violations name trial, epoch and field, and
// a command that cannot run, or speaks another protocol version, fails the trial for good.
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TrialEvent } from '../../proto/index.js';
import {
  alive,
  allToyPids,
  startHarness,
  toyPids,
  toySpec,
  waitUntil,
  type Harness,
} from './trainer-harness.js';

const statuses = (h: Harness, trialId: string) =>
  h.trialEvents.filter((e) => e.trial_id === trialId).map((e) => `${e.attempt}:${e.status}`);

async function runToEnd(h: Harness, name: string): Promise<void> {
  await waitUntil(`sweep ${name} to finish`, () => h.coordinator.scheduler.registry.isDone(name), 90_000);
}

/** Each trial's events, keyed by the axis level of `axis`. */
function byLevel(h: Harness, sweep: string, axis: string): Map<string, TrialEvent[]> {
  const out = new Map<string, TrialEvent[]>();
  for (const e of h.trialEvents.filter((x) => x.sweep_name === sweep)) {
    const level = JSON.parse(e.axes[axis] ?? 'null') as string;
    out.set(level, [...(out.get(level) ?? []), e]);
  }
  return out;
}

describe('command trainer faults', () => {
  it('fails and retries an attempt that crashes, is killed, exits without done or reports failure', async () => {
    const pids = mkdtempSync(join(tmpdir(), 'phasesweep-pids-'));
    const h = await startHarness();
    h.submit(
      toySpec({
        name: 'crashes',
        epochs: 4,
        params: { on_attempt: 1, at_epoch: 2, pid_dir: pids },
        axes: '  params.mode: [crash, signal, stray, fail]\n',
      }),
    );
    h.agent();
    await runToEnd(h, 'crashes');
    await h.close();
    const trials = byLevel(h, 'crashes', 'params.mode');
    const expected: Record<string, RegExp> = {
      crash:
        /epoch 2: the trainer exited with status 3 before done \(last output: toy trainer: simulated crash/,
      signal: /epoch 2: the trainer was killed by SIGSEGV before done/,
      stray: /epoch 2: the trainer exited with status 0 before done/,
      fail: /epoch 2: the trainer failed: dataset shard missing/,
    };
    for (const [mode, re] of Object.entries(expected)) {
      const events = trials.get(mode)!;
      const id = events[0]!.trial_id;
      expect(statuses(h, id), mode).toEqual(['1:leased', '1:retrying', '2:leased', '2:completed']);
      const retrying = events.find((e) => e.status === 'retrying')!;
      expect(retrying.reason, mode).toMatch(new RegExp(`^trial ${id} ${re.source}`));
      // The log tail holds the trainer's last lines, stdout and stderr.
      expect(retrying.log_tail, mode).toContain('toy trainer attempt 1: epochs 0…3 on cpu, mode');
      if (mode === 'crash')
        expect(retrying.log_tail).toContain('simulated crash (RuntimeError: out of memory)');
    }
    expect(h.events.filter((e) => e.attempt === 2)).toHaveLength(4 * 4);
  });

  it('kills a trainer that sends nothing for timeout_s, even one that ignores SIGTERM, and retries it', async () => {
    const pids = mkdtempSync(join(tmpdir(), 'phasesweep-pids-'));
    const h = await startHarness();
    h.submit(
      toySpec({
        name: 'hangs',
        epochs: 3,
        params: {
          mode: 'hang',
          on_attempt: 1,
          at_epoch: 1,
          pid_dir: pids,
          spawn_child: true,
          ignore_term: true,
        },
        trainer: 'timeout_s: 1, stop_grace_s: 0.5',
      }),
    );
    const started = Date.now();
    h.agent();
    await runToEnd(h, 'hangs');
    await h.close();
    const id = h.trialEvents[0]!.trial_id;
    expect(statuses(h, id)).toEqual(['1:leased', '1:retrying', '2:leased', '2:completed']);
    const retrying = h.trialEvents.find((e) => e.status === 'retrying')!;
    expect(retrying.reason).toBe(`trial ${id} epoch 1: no frame from the trainer for 1 s: killed as hung`);
    expect(retrying.log_tail).toContain('hanging');
    expect(retrying.log_tail).toContain('ignoring SIGTERM');
    const [trainer, child] = toyPids(pids, id, 1);
    expect(alive(trainer!)).toBe(false);
    expect(alive(child!)).toBe(false);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('fails an attempt that breaks the protocol, naming trial, epoch and field', async () => {
    const pids = mkdtempSync(join(tmpdir(), 'phasesweep-pids-'));
    const h = await startHarness({ maxFailures: 1 });
    const violations: Record<string, string> = {
      'bad-json': 'epoch 1: header: not valid JSON',
      'skip-epoch': 'epoch 1: epoch: 2, expected 1',
      'shape-change': 'epoch 1: matrices.embedding.shape: [11, 4], but earlier reports sent [12, 4]',
      'grad-shape': "epoch 1: matrices.embedding_grad.shape: [1, 4] differs from the embedding's [12, 4]",
      nan: 'epoch 1: matrices.embedding: non-finite value NaN at [1, 1]',
      'no-loss': 'epoch 1: scalars.loss: required: a number',
      'bad-bytes': 'epoch 1: matrices.embedding.bytes: 188, but 12 × 4 float32 is 192',
      'unasked-checkpoint': 'epoch 1: type: "checkpoint" only right after a reply asking for one',
      'unknown-type': 'epoch 1: type: unknown frame type "progress"',
      'out-of-turn':
        'epoch 2: type: "epoch" sent before the worker answered the previous frame (out of turn)',
      'probe-scalar':
        'epoch 1: scalars.drift: computed by the worker from the matrices; not accepted as a scalar',
    };
    h.submit(
      toySpec({
        name: 'violations',
        epochs: 4,
        params: { mode: 'violation', at_epoch: 1, pid_dir: pids },
        trainer: 'timeout_s: 5',
        axes: `  params.violation: ${JSON.stringify(Object.keys(violations))}\n`,
      }),
    );
    h.agent();
    await runToEnd(h, 'violations');
    await h.close();
    const trials = byLevel(h, 'violations', 'params.violation');
    for (const [kind, message] of Object.entries(violations)) {
      const failed = trials.get(kind)!.find((e) => e.status === 'failed');
      expect(failed, kind).toBeDefined();
      expect(
        failed!.reason.startsWith(`trial ${failed!.trial_id} ${message}`),
        `${kind}: ${failed!.reason}`,
      ).toBe(true);
    }
    // Every trainer was killed (the toy waits forever after a violation), none reported on.
    const all = allToyPids(pids);
    expect(all).toHaveLength(Object.keys(violations).length);
    expect(all.filter(alive)).toEqual([]);
    expect(h.events.every((e) => e.epoch === 0 || e.epoch === 1)).toBe(true);
  });

  it('fails the trial for good, without retries, when the command cannot run or speaks another version', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'phasesweep-cmd-'));
    const script = join(dir, 'not-executable.sh');
    writeFileSync(script, '#!/bin/sh\nexit 0\n');
    chmodSync(script, 0o644);
    const h = await startHarness({ maxFailures: 3 });
    h.submit(toySpec({ name: 'missing', command: ['phasesweep-no-such-trainer', 'train.py'] }));
    h.submit(toySpec({ name: 'not-executable', command: [script] }));
    h.submit(toySpec({ name: 'bad-cwd', trainer: `cwd: ${JSON.stringify(join(dir, 'nowhere'))}` }));
    h.submit(toySpec({ name: 'version', trainer: 'env: { TOY_PROTOCOL: "2" }' }));
    h.agent();
    for (const name of ['missing', 'not-executable', 'bad-cwd', 'version']) await runToEnd(h, name);
    await h.close();
    const expected: Record<string, string> = {
      missing: 'trainer.command: "phasesweep-no-such-trainer" not found (on PATH, or its interpreter)',
      'not-executable': `trainer.command: ${JSON.stringify(script)} not executable`,
      'bad-cwd': `trainer.cwd: ${join(dir, 'nowhere')} is not a directory`,
      version: 'hello.protocol: unknown protocol version 2; this worker speaks 1',
    };
    for (const [sweep, message] of Object.entries(expected)) {
      const events = h.trialEvents.filter((e) => e.sweep_name === sweep);
      expect(
        events.map((e) => `${e.attempt}:${e.status}`),
        sweep,
      ).toEqual(['1:leased', '1:failed']);
      expect(events[1]!.reason, sweep).toContain(message);
    }
    expect(h.coordinator.scheduler.quarantined.size).toBe(0);
  });

  it('ends a trial as diverged when the trainer says so, keeping its earlier events', async () => {
    const h = await startHarness();
    h.submit(toySpec({ name: 'diverges', epochs: 6, params: { mode: 'diverge', at_epoch: 3 } }));
    h.agent();
    await runToEnd(h, 'diverges');
    await h.close();
    const last = h.trialEvents.at(-1)!;
    expect(last).toMatchObject({ status: 'diverged', reason: 'loss is nan at epoch 3', epochs: 3 });
    expect(h.events.map((e) => e.epoch).sort()).toEqual([0, 1, 2]);
  });
});
