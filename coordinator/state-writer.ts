// Group commit of coordinator state: changes accumulate in the registry's dirty set; one write
// at a time persists all of them; callbacks queued with `afterDurable` (lease messages) run
// once a write that began after they were queued has finished. Writes never overlap.
import type { Logger } from './logger.js';
import type { StateStore } from './state-store.js';
import type { SweepRegistry } from './sweep-registry.js';

export class StateWriter {
  private writing: Promise<void> | undefined;
  private queued: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly registry: SweepRegistry,
    private readonly store: StateStore,
    private readonly log: Logger,
  ) {}

  /** Runs `fn` once everything changed so far is durable. */
  afterDurable(fn: () => void): void {
    this.queued.push(fn);
    this.kick();
  }

  /** Schedules a write soon (coalescing bursts of changes into one). */
  kick(): void {
    if (this.timer !== undefined || this.writing !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.loop();
    }, 0);
  }

  /** Writes until nothing is dirty; resolves when all is durable. */
  async flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.writing !== undefined) await this.writing;
    if (this.registry.hasDirty || this.queued.length > 0) await this.loop();
  }

  private loop(): Promise<void> {
    if (this.writing !== undefined) return this.writing;
    this.writing = (async () => {
      let backoff = 50;
      while (this.registry.hasDirty || this.queued.length > 0) {
        const batch = this.registry.takeDirty();
        const waiting = this.queued;
        this.queued = [];
        try {
          await this.store.write(batch);
          backoff = 50;
        } catch (err) {
          // Not durable: put the records back and hold the lease messages until it is.
          this.log.error(`saving coordinator state failed (retrying): ${String(err)}`);
          this.registry.restoreDirty(batch);
          this.queued = [...waiting, ...this.queued];
          await new Promise((r) => setTimeout(r, backoff));
          backoff = Math.min(backoff * 2, 5_000);
          continue;
        }
        for (const fn of waiting) fn();
      }
    })().finally(() => {
      this.writing = undefined;
    });
    return this.writing;
  }
}
