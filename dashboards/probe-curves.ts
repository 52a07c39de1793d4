// Probe curves: any probe against epoch, median and interquartile range across the trials of
// each level of the chosen axis (seeds, and any other axes, pooled), one series per level.
import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as Table } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as Trend } from '@grafana/grafana-foundation-sdk/trend';
import { CLICKHOUSE, sql } from './datasources.js';
import { PROBE_ROWS, TRIAL_LEVELS } from './sql-parts.js';
import { sweepVariables } from './variables.js';

export const CURVES_SQL = `
SELECT epoch, level, q[1] AS p25, q[2] AS median, q[3] AS p75, trials
FROM (
  SELECT epoch, level, quantiles(0.25, 0.5, 0.75)(value) AS q, count() AS trials
  FROM (${PROBE_ROWS})
  ANY INNER JOIN (${TRIAL_LEVELS}) USING (trial_id)
  GROUP BY epoch, level
)
ORDER BY level, epoch`;

export const FINAL_VALUES_SQL = `
SELECT level, count() AS trials, median(last_value) AS median_last, min(last_value) AS min_last,
  max(last_value) AS max_last, max(last_epoch) AS max_epoch
FROM (
  SELECT trial_id, argMax(value, epoch) AS last_value, max(epoch) AS last_epoch
  FROM (${PROBE_ROWS})
  GROUP BY trial_id
)
ANY INNER JOIN (${TRIAL_LEVELS}) USING (trial_id)
GROUP BY level
ORDER BY level`;

export function probeCurves() {
  return new DashboardBuilder('phasesweep: probe curves')
    .uid('phasesweep-probe-curves')
    .tags(['phasesweep'])
    .description('A probe against epoch: median and IQR across seeds, one series per level of an axis')
    .refresh('30s')
    .time({ from: 'now-7d', to: 'now' })
    .variables(sweepVariables())
    .withPanel(
      new Trend()
        .title('${probe} by epoch, per ${axis} level (median, IQR)')
        .datasource(CLICKHOUSE)
        .withTarget(sql(CURVES_SQL))
        .xField('epoch')
        // One frame per level, so each level is its own set of lines.
        .withTransformation({ id: 'partitionByValues', options: { fields: ['level'], keepFields: false } })
        .overrideByRegexp('p25|p75', [
          { id: 'custom.lineStyle', value: { fill: 'dash', dash: [6, 4] } },
          { id: 'custom.lineWidth', value: 1 },
        ])
        .overrideByName('trials', [
          { id: 'custom.hideFrom', value: { viz: true, legend: true, tooltip: false } },
        ])
        .span(24)
        .height(12),
    )
    .withPanel(
      new Table()
        .title('Last value of ${probe} per ${axis} level')
        .datasource(CLICKHOUSE)
        .withTarget(sql(FINAL_VALUES_SQL))
        .span(24)
        .height(7),
    );
}
