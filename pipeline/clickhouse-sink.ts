// Writes decoded events to ClickHouse, one INSERT per table per batch: RowBinary by default,
// JSONEachRow as the readable fallback. A batch is one block, so a failed insert wrote nothing.
// Probe rows arrive already in RowBinary (the ingester decodes messages straight into it).
import type { ClickHouseClient } from '@clickhouse/client';
import { Readable } from 'node:stream';
import type { TrialEvent } from '../proto/index.js';
import { PROBE_EVENT_COLUMNS, quoteIdent, TRIAL_COLUMNS } from './clickhouse-sql.js';
import type { ProbeRows } from './probe-row-decoder.js';
import { encodeTrialRows, readProbeRows } from './rowbinary.js';
import { trialRow } from './rows.js';

export type InsertFormat = 'RowBinary' | 'JSONEachRow';

export class ClickHouseSink {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
    private readonly format: InsertFormat = 'RowBinary',
  ) {
    quoteIdent(database);
  }

  async insert(probes: ProbeRows, trials: readonly TrialEvent[], signal?: AbortSignal): Promise<void> {
    const jobs: Promise<void>[] = [];
    if (probes.count > 0) jobs.push(this.insertProbes(probes, signal));
    if (trials.length > 0) jobs.push(this.insertTrials(trials, signal));
    const results = await Promise.allSettled(jobs);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  private table(name: string): string {
    return `${quoteIdent(this.database)}.${name}`;
  }

  private insertProbes(probes: ProbeRows, signal?: AbortSignal): Promise<void> {
    const body = probes.bytesByTrial();
    if (this.format === 'JSONEachRow') {
      return this.insertJson('probe_events', PROBE_EVENT_COLUMNS, readProbeRows(body), signal);
    }
    return this.insertRowBinary('probe_events', PROBE_EVENT_COLUMNS, body, signal);
  }

  private insertTrials(events: readonly TrialEvent[], signal?: AbortSignal): Promise<void> {
    if (this.format === 'JSONEachRow') {
      return this.insertJson('trials', TRIAL_COLUMNS, events.map(trialRow), signal);
    }
    return this.insertRowBinary('trials', TRIAL_COLUMNS, encodeTrialRows(events), signal);
  }

  private async insertJson(
    table: string,
    columns: readonly string[],
    rows: readonly object[],
    signal?: AbortSignal,
  ): Promise<void> {
    await this.client.insert({
      table: this.table(table),
      columns: [...columns] as [string, ...string[]],
      values: rows,
      format: 'JSONEachRow',
      ...(signal === undefined ? {} : { abort_signal: signal }),
    });
  }

  private async insertRowBinary(
    table: string,
    columns: readonly string[],
    body: Buffer,
    signal?: AbortSignal,
  ): Promise<void> {
    const result = await this.client.exec({
      query: `INSERT INTO ${this.table(table)} (${columns.join(', ')}) FORMAT RowBinary`,
      values: Readable.from([body]),
      ...(signal === undefined ? {} : { abort_signal: signal }),
    });
    // The (empty) response must be read to the end, or its socket never returns to the pool.
    for await (const _chunk of result.stream) {
      /* drain */
    }
  }
}
