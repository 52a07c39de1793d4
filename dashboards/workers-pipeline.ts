// Workers and pipeline: leases, retries and worker activity from the trials and probe-event
// tables (ClickHouse), heartbeats, lease expiries, ingest lag and dead letters from Prometheus.
import { DashboardBuilder, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as Stat } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as Table } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeSeries } from '@grafana/grafana-foundation-sdk/timeseries';
import { CLICKHOUSE, PROMETHEUS, promql, sql } from './datasources.js';
import { SWEEP, timeBucket } from './sql-parts.js';
import { sweepVariables } from './variables.js';

export function workersPipeline() {
  return new DashboardBuilder('phasesweep: workers and pipeline')
    .uid('phasesweep-workers-pipeline')
    .tags(['phasesweep'])
    .description('Leases, retries and worker activity of a sweep; heartbeats, ingest lag and dead letters')
    .refresh('10s')
    .time({ from: 'now-1h', to: 'now' })
    .variables(sweepVariables())
    .withRow(new RowBuilder('Workers (trial status events in ClickHouse)'))
    .withPanel(
      new Table()
        .title('Leases per worker')
        .description('Latest state of each trial, attributed to the worker of its latest attempt')
        .datasource(CLICKHOUSE)
        .withTarget(
          sql(`
SELECT worker_id,
  countIf(status IN ('leased', 'running')) AS active_leases,
  countIf(status IN ('completed', 'diverged')) AS finished,
  countIf(status IN ('failed', 'retrying')) AS failing,
  sum(attempt) AS attempts,
  max(time) AS last_trial_event
FROM trials FINAL
WHERE sweep_id = ${SWEEP} AND worker_id != ''
GROUP BY worker_id
ORDER BY worker_id`),
        )
        .span(12)
        .height(8),
    )
    .withPanel(
      new Table()
        .title('Last probe event per worker')
        .description('Seconds since each worker last delivered an event, at the end of the range')
        .datasource(CLICKHOUSE)
        .withTarget(
          sql(`
SELECT worker_id, count() AS events, max(time) AS last_event,
  toUInt32($__toTime) - toUInt32(max(time)) AS seconds_since
FROM probe_events
WHERE sweep_id = ${SWEEP} AND $__timeFilter(time)
GROUP BY worker_id
ORDER BY worker_id`),
        )
        .span(12)
        .height(8),
    )
    .withPanel(
      new TimeSeries()
        .title('Epochs per second by worker')
        .datasource(CLICKHOUSE)
        .unit('ops')
        .withTarget(
          sql(
            `
SELECT ${timeBucket('time')} AS t, worker_id, count() / $__interval_s AS epochs_per_s
FROM probe_events
WHERE sweep_id = ${SWEEP} AND $__timeFilter(time)
GROUP BY t, worker_id
ORDER BY t, worker_id`,
            'timeSeries',
          ),
        )
        .span(12)
        .height(8),
    )
    .withPanel(
      new Stat()
        .title('Retries')
        .description('Attempts beyond the first, over all trials of the sweep; trials that failed for good')
        .datasource(CLICKHOUSE)
        .withTarget(
          sql(`
SELECT sum(attempt) - count() AS retries, countIf(attempt > 1) AS retried_trials,
  countIf(status = 'failed') AS failed_trials
FROM trials FINAL
WHERE sweep_id = ${SWEEP} AND attempt > 0`),
        )
        .span(12)
        .height(8),
    )
    .withRow(new RowBuilder('Coordinator and ingest (Prometheus)'))
    .withPanel(
      new TimeSeries()
        .title('Heartbeats and leases')
        .datasource(PROMETHEUS)
        .unit('ops')
        .withTarget(
          promql('sum(rate(phasesweep_coordinator_heartbeats_total[$__rate_interval]))', 'heartbeats/s', 'A'),
        )
        .withTarget(
          promql(
            'sum(rate(phasesweep_coordinator_leases_granted_total[$__rate_interval]))',
            'leases granted/s',
            'B',
          ),
        )
        .withTarget(
          promql(
            'sum(rate(phasesweep_coordinator_leases_expired_total[$__rate_interval]))',
            'leases expired/s',
            'C',
          ),
        )
        .span(12)
        .height(8),
    )
    .withPanel(
      new TimeSeries()
        .title('Ingest lag (event time → acked in ClickHouse)')
        .datasource(PROMETHEUS)
        .unit('s')
        .withTarget(
          promql(
            'histogram_quantile(0.5, sum by (le) (rate(phasesweep_ingest_lag_seconds_bucket[$__rate_interval])))',
            'p50',
            'A',
          ),
        )
        .withTarget(
          promql(
            'histogram_quantile(0.95, sum by (le) (rate(phasesweep_ingest_lag_seconds_bucket[$__rate_interval])))',
            'p95',
            'B',
          ),
        )
        .span(12)
        .height(8),
    )
    .withPanel(
      new TimeSeries()
        .title('Dead letters and failed inserts')
        .datasource(PROMETHEUS)
        .withTarget(
          promql(
            'sum(increase(phasesweep_ingest_dead_lettered_total[$__rate_interval]))',
            'dead-lettered',
            'A',
          ),
        )
        .withTarget(
          promql(
            'sum(increase(phasesweep_ingest_failed_inserts_total[$__rate_interval]))',
            'failed inserts',
            'B',
          ),
        )
        .span(24)
        .height(7),
    );
}
