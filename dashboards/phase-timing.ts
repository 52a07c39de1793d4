// Phase timing: the epoch at which a probe first crosses a threshold (a simple phase event),
// per trial and per axis level, with the share of trials censored (no event by their last epoch).
import { ReduceDataOptionsBuilder } from '@grafana/grafana-foundation-sdk/common';
import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as BarGauge } from '@grafana/grafana-foundation-sdk/bargauge';
import { PanelBuilder as Table } from '@grafana/grafana-foundation-sdk/table';
import { CLICKHOUSE, sql } from './datasources.js';
import { THRESHOLD_EVENTS, TRIAL_LEVELS } from './sql-parts.js';
import { sweepVariables, thresholdVariables } from './variables.js';

export const EVENT_EPOCHS_SQL = `
SELECT level, trials, events, censored_share, q[1] AS p25_epoch, q[2] AS median_epoch, q[3] AS p75_epoch
FROM (
  SELECT level, count() AS trials, sum(reached) AS events, 1 - events / trials AS censored_share,
    quantilesIf(0.25, 0.5, 0.75)(toFloat64(event_epoch), reached) AS q
  FROM (${THRESHOLD_EVENTS})
  ANY INNER JOIN (${TRIAL_LEVELS}) USING (trial_id)
  GROUP BY level
)
ORDER BY level`;

export const TRIAL_EVENTS_SQL = `
SELECT trial_id, level, seed, if(reached, toNullable(event_epoch), NULL) AS event_epoch, last_epoch,
  if(reached, 'event', 'censored') AS outcome
FROM (${THRESHOLD_EVENTS})
ANY INNER JOIN (${TRIAL_LEVELS}) USING (trial_id)
ORDER BY level, seed, trial_id`;

export function phaseTiming() {
  return new DashboardBuilder('phasesweep: phase timing')
    .uid('phasesweep-phase-timing')
    .tags(['phasesweep'])
    .description('First epoch at which ${probe} crosses ${threshold}, per trial and per ${axis} level')
    .refresh('30s')
    .time({ from: 'now-7d', to: 'now' })
    .variables([...sweepVariables(), ...thresholdVariables()])
    .withPanel(
      new Table()
        .title('Event epoch per ${axis} level (${probe} ${direction} ${threshold})')
        .datasource(CLICKHOUSE)
        .withTarget(sql(EVENT_EPOCHS_SQL))
        .overrideByName('censored_share', [{ id: 'unit', value: 'percentunit' }])
        .span(14)
        .height(9),
    )
    .withPanel(
      new BarGauge()
        .title('Share censored per ${axis} level')
        .description('Trials whose probe never crossed the threshold up to their last stored epoch')
        .datasource(CLICKHOUSE)
        .withTarget(sql(EVENT_EPOCHS_SQL))
        .unit('percentunit')
        // One bar per level row, named by the row's level.
        .reduceOptions(new ReduceDataOptionsBuilder().values(true).calcs([]).fields('/^censored_share$/'))
        .displayName('${__data.fields.level}')
        .min(0)
        .max(1)
        .withTransformation({
          id: 'organize',
          options: {
            excludeByName: {
              trials: true,
              events: true,
              p25_epoch: true,
              median_epoch: true,
              p75_epoch: true,
            },
          },
        })
        .span(10)
        .height(9),
    )
    .withPanel(
      new Table()
        .title('Event epoch per trial')
        .datasource(CLICKHOUSE)
        .withTarget(sql(TRIAL_EVENTS_SQL))
        .span(24)
        .height(10),
    );
}
