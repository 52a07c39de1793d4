// Probe curves: any probe, and any user scalar (a trainer's own named value), against epoch,
// median and interquartile range across the trials of each level of the chosen axis (seeds,
// and any other axes, pooled), one series per level.
import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as Table } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as Trend } from '@grafana/grafana-foundation-sdk/trend';
import { CLICKHOUSE, sql } from './datasources.js';
import { PROBE_ROWS, SCALAR_ROWS, TRIAL_LEVELS } from './sql-parts.js';
import { scalarVariable, sweepVariables } from './variables.js';

/** Median and IQR per (epoch, level) of `rows` (trial_id, epoch, value). */
function curvesSql(rows: string): string {
  return `
SELECT epoch, level, q[1] AS p25, q[2] AS median, q[3] AS p75, trials
FROM (
  SELECT epoch, level, quantiles(0.25, 0.5, 0.75)(value) AS q, count() AS trials
  FROM (${rows})
  ANY INNER JOIN (${TRIAL_LEVELS}) USING (trial_id)
  GROUP BY epoch, level
)
ORDER BY level, epoch`;
}

/** Each trial's last value in `rows` (trial_id, epoch, value), summarised per level. */
function finalValuesSql(rows: string): string {
  return `
SELECT level, count() AS trials, median(last_value) AS median_last, min(last_value) AS min_last,
  max(last_value) AS max_last, max(last_epoch) AS max_epoch
FROM (
  SELECT trial_id, argMax(value, epoch) AS last_value, max(epoch) AS last_epoch
  FROM (${rows})
  GROUP BY trial_id
)
ANY INNER JOIN (${TRIAL_LEVELS}) USING (trial_id)
GROUP BY level
ORDER BY level`;
}

export const CURVES_SQL = curvesSql(PROBE_ROWS);
export const FINAL_VALUES_SQL = finalValuesSql(PROBE_ROWS);
export const SCALAR_CURVES_SQL = curvesSql(SCALAR_ROWS);
export const SCALAR_FINAL_VALUES_SQL = finalValuesSql(SCALAR_ROWS);

function curvesPanel(what: string, query: string) {
  return (
    new Trend()
      .title(`${what} by epoch, per \${axis} level (median, IQR)`)
      .datasource(CLICKHOUSE)
      .withTarget(sql(query))
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
      .height(12)
  );
}

function finalValuesPanel(what: string, query: string) {
  return new Table()
    .title(`Last value of ${what} per \${axis} level`)
    .datasource(CLICKHOUSE)
    .withTarget(sql(query))
    .span(24)
    .height(7);
}

export function probeCurves() {
  return (
    new DashboardBuilder('phasesweep: probe curves')
      .uid('phasesweep-probe-curves')
      .tags(['phasesweep'])
      .description(
        'A probe, or a user scalar, against epoch: median and IQR across seeds, one series per level of an axis',
      )
      .refresh('30s')
      .time({ from: 'now-7d', to: 'now' })
      .variables([...sweepVariables(), scalarVariable()])
      .withPanel(curvesPanel('${probe}', CURVES_SQL))
      .withPanel(finalValuesPanel('${probe}', FINAL_VALUES_SQL))
      // A command trainer's own scalars by name (the `scalar` variable lists the sweep's).
      .withPanel(curvesPanel('${scalar}', SCALAR_CURVES_SQL))
      .withPanel(finalValuesPanel('${scalar}', SCALAR_FINAL_VALUES_SQL))
  );
}
