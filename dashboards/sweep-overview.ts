// Sweep overview: trials by status, progress and ETA, event throughput, failures. ClickHouse
// only; progress counts stored probe events against the epochs each trial plans to train.
import { ReduceDataOptionsBuilder } from '@grafana/grafana-foundation-sdk/common';
import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as PieChart } from '@grafana/grafana-foundation-sdk/piechart';
import { PanelBuilder as Stat } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as Table } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeSeries } from '@grafana/grafana-foundation-sdk/timeseries';
import { CLICKHOUSE, sql } from './datasources.js';
import { LEVEL, PLANNED_EPOCHS, SWEEP, timeBucket } from './sql-parts.js';
import { sweepVariables } from './variables.js';

/** Epochs stored, epochs planned, and the rate over the last 5 minutes of the dashboard range. */
export const PROGRESS_SQL = `
SELECT epochs_done, epochs_planned,
  if(epochs_planned = 0, 0, epochs_done / epochs_planned) AS progress,
  recent_events / 300 AS epochs_per_s,
  if(recent_events = 0, NULL, toUInt64(greatest(epochs_planned - epochs_done, 0) / (recent_events / 300))) AS eta_s
FROM (
  SELECT
    (SELECT count() FROM probe_events FINAL WHERE sweep_id = ${SWEEP}) AS epochs_done,
    (SELECT sum(${PLANNED_EPOCHS}) FROM trials FINAL WHERE sweep_id = ${SWEEP}) AS epochs_planned,
    (SELECT count() FROM probe_events
      WHERE sweep_id = ${SWEEP} AND time > $__toTime - 300 AND time <= $__toTime) AS recent_events
)`;

export function sweepOverview() {
  return new DashboardBuilder('phasesweep: sweep overview')
    .uid('phasesweep-overview')
    .tags(['phasesweep'])
    .description('Trials by status, progress and ETA, events per second and failures of one sweep')
    .refresh('10s')
    .time({ from: 'now-6h', to: 'now' })
    .variables(sweepVariables())
    .withPanel(
      new PieChart()
        .title('Trials by status')
        .datasource(CLICKHOUSE)
        // One slice per row, not one value reduced from the whole column.
        .reduceOptions(new ReduceDataOptionsBuilder().values(true).calcs([]).fields('/^trials$/'))
        .withTarget(
          sql(`
SELECT status, count() AS trials
FROM trials FINAL
WHERE sweep_id = ${SWEEP}
GROUP BY status
ORDER BY status`),
        )
        .span(8)
        .height(8),
    )
    .withPanel(
      new Stat()
        .title('Progress and ETA')
        .description('Epochs stored / epochs planned; rate and ETA over the last 5 minutes of the range')
        .datasource(CLICKHOUSE)
        .withTarget(sql(PROGRESS_SQL))
        .overrideByName('progress', [{ id: 'unit', value: 'percentunit' }])
        .overrideByName('eta_s', [{ id: 'unit', value: 's' }])
        .span(16)
        .height(8),
    )
    .withPanel(
      new TimeSeries()
        .title('Probe events per second')
        .datasource(CLICKHOUSE)
        .unit('ops')
        .withTarget(
          sql(
            `
SELECT ${timeBucket('time')} AS t, count() / $__interval_s AS events_per_s
FROM probe_events
WHERE sweep_id = ${SWEEP} AND $__timeFilter(time)
GROUP BY t
ORDER BY t`,
            'timeSeries',
          ),
        )
        .span(12)
        .height(8),
    )
    .withPanel(
      new Table()
        .title('Trials per ${axis} level')
        .datasource(CLICKHOUSE)
        .withTarget(
          sql(`
SELECT ${LEVEL} AS level, count() AS trials,
  countIf(status = 'completed') AS completed,
  countIf(status = 'diverged') AS diverged,
  countIf(status IN ('leased', 'running')) AS running,
  countIf(status IN ('failed', 'retrying')) AS failing
FROM trials FINAL
WHERE sweep_id = ${SWEEP}
GROUP BY level
ORDER BY level`),
        )
        .span(12)
        .height(8),
    )
    .withPanel(
      new Table()
        .title('Failures and retries')
        .description('Trials that failed, are being retried, or needed more than one attempt')
        .datasource(CLICKHOUSE)
        .withTarget(
          sql(`
SELECT trial_id, status, attempt, worker_id, reason, time
FROM trials FINAL
WHERE sweep_id = ${SWEEP} AND (status IN ('failed', 'retrying') OR attempt > 1)
ORDER BY time DESC, trial_id
LIMIT 200`),
        )
        .span(24)
        .height(8),
    );
}
