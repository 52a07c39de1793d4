// Stopping command trainers: a cancelled sweep, a worker shutdown that hands the trial over (and
// the resumed attempt that continues from the trainer's checkpoint with the same probe series as
// an uninterrupted run), and worker processes that exit on a second signal or die by SIGKILL.
// In every case nothing of the trainer's process group is left.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirCheckpointStore } from '../../worker/index.js';
import { liveTrainerGroups } from '../../worker/trainers/index.js';
import { startCli } from '../support/processes.js';
import { alive, seriesOf, startHarness, toyPids, toySpec, waitUntil } from './trainer-harness.js';

const tmp = (prefix: string) => mkdtempSync(join(tmpdir(), prefix));

describe('stopping command trainers', () => {
  it('stops the trainer of a cancelled sweep at once, SIGKILLing a group that ignores SIGTERM', async () => {
    const pids = tmp('phasesweep-pids-');
    const h = await startHarness({ leaseTtlMs: 1500 });
    h.submit(
      toySpec({
        name: 'cancel-me',
        epochs: 10_000,
        // Epochs long enough that the cancel lands while the worker waits for a report.
        params: { sleep_ms: 250, spawn_child: true, ignore_term: true, pid_dir: pids },
        trainer: 'stop_grace_s: 0.5',
      }),
    );
    const { log } = h.agent();
    await waitUntil('a few events', () => h.events.length >= 2);
    const id = h.events[0]!.trial_id;
    const [trainer, child] = toyPids(pids, id, 1);
    expect(alive(trainer!) && alive(child!)).toBe(true);
    h.coordinator.scheduler.cancel('cancel-me');
    await waitUntil(
      'the trial to be cancelled',
      () => h.trialEvents.some((e) => e.status === 'cancelled'),
      20_000,
    );
    await waitUntil('the trainer group to be gone', () => !alive(trainer!) && !alive(child!), 5_000);
    expect(log.lines.some((l) => l.includes('stdout: ignoring SIGTERM'))).toBe(true);
    expect(liveTrainerGroups()).toEqual([]);
    await h.close();
  });

  it('hands the trial over on worker shutdown; the next worker resumes from the trainer checkpoint with identical probes', async () => {
    const pids = tmp('phasesweep-pids-');
    const params = { sleep_ms: 25, checkpoint_via: 'path', spawn_child: true, pid_dir: pids };
    const spec = (name: string) => toySpec({ name, epochs: 40, params });

    const ref = await startHarness();
    ref.submit(spec('whole'));
    ref.agent();
    await waitUntil('the uninterrupted run', () => ref.coordinator.scheduler.registry.isDone('whole'));
    await ref.close();

    const h = await startHarness();
    h.submit(spec('handed-over'));
    const checkpoints = new DirCheckpointStore(tmp('phasesweep-ckpt-'));
    // Never periodically: only the hand-over checkpoint exists.
    const first = h.agent({ id: 'first', checkpoints, checkpointEvery: 10_000 });
    await waitUntil('some events', () => h.events.length >= 8);
    const id = h.events[0]!.trial_id;
    const [trainer, child] = toyPids(pids, id, 1);
    await first.agent.shutdown();
    await first.running;
    expect(alive(trainer!) || alive(child!)).toBe(false);
    expect(first.log.lines.some((l) => l.includes('stdout: stopping: shutdown'))).toBe(true);
    const record = h.coordinator.scheduler.registry.trial('handed-over', id)!;
    expect(record.state).toBe('pending');
    const handedAt = Math.max(...h.events.map((e) => e.epoch));
    expect(record.checkpointRef).toContain(`-e${handedAt}.ckpt`);
    expect(handedAt).toBeLessThan(39);

    const second = h.agent({ id: 'second', checkpoints });
    await waitUntil('the resumed run', () => h.coordinator.scheduler.registry.isDone('handed-over'));
    await h.close();
    expect(second.log.lines.some((l) => l.includes(`trial ${id}: resuming after epoch ${handedAt}`))).toBe(
      true,
    );
    expect(
      second.log.lines.some((l) => l.includes(`stdout: resumed from checkpoint after epoch ${handedAt}`)),
    ).toBe(true);
    const resumed = h.events.filter((e) => e.attempt === 2);
    expect(resumed[0]!.epoch).toBe(handedAt + 1);
    expect(h.events).toHaveLength(40);
    // Every probe and scalar of every epoch, bit for bit.
    expect(seriesOf(h.events, id)).toEqual(seriesOf(ref.events, id));
    expect(Object.keys(seriesOf(h.events, id))).toHaveLength(40);
    expect(h.trialEvents.at(-1)).toMatchObject({ status: 'completed', attempt: 2 });
  });

  it('kills the trainer group when the worker process exits on a second SIGTERM', async () => {
    const pids = tmp('phasesweep-pids-');
    const h = await startHarness();
    h.submit(
      toySpec({
        name: 'worker-exits',
        epochs: 100,
        // It hangs at epoch 2 and ignores SIGTERM and EOF: the hand-over waits, and only the
        // worker's exit handler ends it.
        params: {
          mode: 'hang',
          at_epoch: 2,
          spawn_child: true,
          ignore_term: true,
          ignore_eof: true,
          pid_dir: pids,
        },
        trainer: 'stop_grace_s: 60, timeout_s: 120',
      }),
    );
    const worker = startCli([
      'worker',
      '--coordinator',
      h.coordinator.address,
      '--engine',
      'wasm',
      '--id',
      'cli',
    ]);
    try {
      await worker.waitFor(/stdout: hanging/, 60_000);
      const id = h.trialEvents[0]!.trial_id;
      const [trainer, child] = toyPids(pids, id, 1);
      expect(alive(trainer!) && alive(child!)).toBe(true);
      worker.child.kill('SIGTERM');
      await worker.waitFor(/SIGTERM, stopping/);
      await new Promise((r) => setTimeout(r, 300));
      expect(alive(trainer!)).toBe(true); // still handing over
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(130);
      await waitUntil('the trainer group to be gone', () => !alive(trainer!) && !alive(child!), 5_000);
    } finally {
      await worker.stop('SIGKILL');
      await h.close();
    }
  });

  it('leaves a trainer that notices EOF on its channel nothing to outlive when the worker is SIGKILLed', async () => {
    const pids = tmp('phasesweep-pids-');
    const h = await startHarness();
    h.submit(
      toySpec({
        name: 'worker-killed',
        epochs: 10_000,
        params: { sleep_ms: 50, spawn_child: true, pid_dir: pids },
      }),
    );
    const worker = startCli([
      'worker',
      '--coordinator',
      h.coordinator.address,
      '--engine',
      'wasm',
      '--id',
      'cli',
    ]);
    try {
      await waitUntil('events', () => h.events.length >= 2, 60_000);
      const id = h.events[0]!.trial_id;
      await waitUntil('the pid file', () => existsSync(join(pids, `${id}.a1.pids`)));
      const [trainer, child] = toyPids(pids, id, 1);
      worker.child.kill('SIGKILL');
      await worker.exited;
      await waitUntil('the trainer to exit on EOF', () => !alive(trainer!) && !alive(child!), 10_000);
    } finally {
      await h.close();
    }
  });
});
