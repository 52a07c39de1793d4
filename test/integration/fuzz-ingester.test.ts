// Hostile messages on the probe and trial subjects: random bytes, valid events cut short or with
// bytes flipped, and events whose ids disagree with their subject. The ingester dead-letters and
// counts every one it cannot use, writes the rest exactly once, and keeps serving.
import { createClient } from '@clickhouse/client';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import { createIngester, ensureStreams } from '../../pipeline/index.js';
import { ProbeEvent, ProbeEventBatch, TrialEvent } from '../../proto/index.js';

const natsUrl = inject('natsUrl');
const clickhouseUrl = inject('clickhouseUrl');

const probe = (sweep: string, trial: string, epoch: number) =>
  ProbeEvent.fromPartial({ sweep_id: sweep, trial_id: trial, attempt: 1, epoch, loss: 1 / (epoch + 1) });

describe('hostile messages at the ingester', () => {
  it('dead-letters what it cannot use, counts it, and ingests every valid event once', async () => {
    const id = randomBytes(4).toString('hex');
    const prefix = `f${id}`;
    const database = `fuzz_${id}`;
    const sweep = `sweep-${id}`;
    await ensureStreams(natsUrl, prefix);
    const valid = [
      ProbeEvent.encode(probe(sweep, 't1', 0)).finish(),
      ProbeEvent.encode(probe(sweep, 't1', 1)).finish(),
      // Without the batch header a batch is read as one event whose ids disagree with its subject.
      ProbeEventBatch.encode({ events: [probe(sweep, 't1', 2)] }).finish(),
      TrialEvent.encode(
        TrialEvent.fromPartial({ sweep_id: sweep, trial_id: 't1', status: 'leased' }),
      ).finish(),
    ];
    const junk = fc.sample(
      fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc
          .tuple(fc.constantFrom(...valid), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }))
          .map(([v, cut, at, byte]) => {
            const out = Uint8Array.from(v.subarray(0, 1 + (cut % v.length)));
            out[at % out.length] = byte;
            return out;
          }),
      ),
      { numRuns: 200, seed: 15 },
    );
    const nc = await connect({ servers: natsUrl });
    const ch = createClient({ url: clickhouseUrl });
    try {
      const js = jetstream(nc);
      for (const [i, bytes] of junk.entries()) {
        const kind = i % 3 === 0 ? 'trials' : 'probes';
        await js.publish(`${prefix}.${kind}.${sweep}.t2`, bytes);
      }
      // Well-formed, but its ids disagree with its subject.
      await js.publish(`${prefix}.probes.${sweep}.t2`, ProbeEvent.encode(probe(sweep, 'other', 0)).finish());
      await js.publish(`${prefix}.probes.${sweep}.t1`, valid[0]);
      await js.publish(`${prefix}.probes.${sweep}.t1`, valid[1]);
      await js.publish(`${prefix}.probes.${sweep}.t1`, valid[2]);
      await js.publish(`${prefix}.probes.${sweep}.t1`, ProbeEvent.encode(probe(sweep, 't1', 2)).finish());

      const ingester = await createIngester({
        natsUrl,
        clickhouseUrl,
        database,
        prefix,
        batchDelayMs: 20,
        log: () => undefined,
      });
      const running = ingester.run();
      const total = junk.length + 5;
      const deadline = Date.now() + 60_000;
      const handled = () => ingester.stats.deadLettered + ingester.stats.ingested;
      while (Date.now() < deadline && (ingester.stats.ingested < 3 || handled() < 3)) {
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 500));
      await ingester.shutdown();
      await running;
      // Junk that happens to decode (to an event of this subject's trial, or a trial event) is
      // data, not poison; whatever does not decode is dead-lettered. Nothing is silently dropped.
      expect(ingester.stats.deadLettered).toBeGreaterThanOrEqual(100);
      expect(ingester.stats.deadLettered).toBeLessThanOrEqual(total);
      const rs = await ch.query({
        query: `SELECT epoch FROM \`${database}\`.probe_events FINAL WHERE trial_id = 't1' ORDER BY epoch`,
        format: 'JSONEachRow',
      });
      expect((await rs.json<{ epoch: number }>()).map((r) => Number(r.epoch))).toEqual([0, 1, 2]);
    } finally {
      await nc.close();
      await ch.command({ query: `DROP DATABASE IF EXISTS \`${database}\`` }).catch(() => undefined);
      await ch.close();
    }
  });
});
