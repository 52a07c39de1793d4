// Applies one scheduled fault to the running system: SIGKILL and start again (workers,
// coordinator, ingesters, servers), SIGSTOP … SIGCONT (workers), Ctrl-C and run again (the
// embedded run), links down … up (the namespaced worker). Every fault undoes itself.
import type { ChaosCluster } from './cluster.js';
import type { EmbeddedRuns } from './embedded.js';
import type { NetworkNamespace } from './netns.js';
import { describeFault, type Fault } from './schedule.js';
import { sleep } from './servers.js';

export interface InjectorDeps {
  cluster: ChaosCluster;
  embedded: EmbeddedRuns;
  netns: NetworkNamespace | undefined;
  log: (line: string) => void;
}

export type InjectResult = { injected: true } | { injected: false; reason: string };

/** Waits (bounded) until `ready()`; false if it never was. */
async function until(ready: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

/** `applied` is called as soon as the fault has hit (before it is undone). */
export async function inject(f: Fault, d: InjectorDeps, applied: () => void): Promise<InjectResult> {
  const sup = d.cluster.supervisor;
  const skipped = (reason: string): InjectResult => ({ injected: false, reason });
  switch (f.kind) {
    case 'worker_kill':
    case 'coordinator_kill':
    case 'ingester_kill':
    case 'nats_restart':
    case 'clickhouse_restart': {
      // Hit a process that is up: a kill during its own restart tests nothing new.
      if (!(await until(() => sup.isUp(f.target), 15_000))) return skipped(`${f.target} is not up`);
      await sup.down(f.target, 'SIGKILL');
      applied();
      d.log(`fault ${describeFault(f)}: killed`);
      await sleep(f.holdMs);
      await sup.up(f.target);
      d.log(`fault #${f.index}: ${f.target} is up again`);
      return { injected: true };
    }
    case 'worker_pause': {
      if (!(await until(() => sup.isUp(f.target), 15_000))) return skipped(`${f.target} is not up`);
      const proc = sup.get(f.target)!.proc;
      proc.signal('SIGSTOP');
      applied();
      d.log(`fault ${describeFault(f)}: stopped pid ${proc.pid}`);
      await sleep(f.holdMs);
      proc.signal('SIGCONT');
      d.log(`fault #${f.index}: ${f.target} continued`);
      return { injected: true };
    }
    case 'embedded_interrupt': {
      if (!(await until(() => d.embedded.running, 15_000))) return skipped('the embedded run is not running');
      if (!(await d.embedded.interrupt(f.holdMs, applied))) return skipped('the embedded run had just ended');
      d.log(`fault ${describeFault(f)}: Ctrl-C sent, run exited`);
      return { injected: true };
    }
    case 'partition': {
      const netns = d.netns;
      if (netns === undefined || f.link === undefined) return skipped('no network namespace');
      if (!(await until(() => sup.isUp(f.target), 15_000))) return skipped(`${f.target} is not up`);
      await netns.cut(f.link);
      applied();
      d.log(`fault ${describeFault(f)}: link down`);
      try {
        await sleep(f.holdMs);
      } finally {
        await netns.restore(f.link);
      }
      d.log(`fault #${f.index}: link up`);
      return { injected: true };
    }
  }
}
