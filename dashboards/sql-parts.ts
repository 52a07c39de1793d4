// SQL fragments the ClickHouse panels share. Everything runs on ClickHouse 18.16 and 24.x:
// subqueries in FROM (no WITH), ANY INNER JOIN … USING, arrays instead of Map, and template
// variables only as `sqlstring` literals, so a selected value can never change the SQL shape.
import { PROBE_NAMES } from '../spec/probes.js';

export const SWEEP = '${sweep:sqlstring}';
export const AXIS = '${axis:sqlstring}';
export const PROBE = '${probe:sqlstring}';
export const SCALAR = '${scalar:sqlstring}';
export const THRESHOLD = '${threshold:sqlstring}';
export const DIRECTION = '${direction:sqlstring}';

/** The chosen axis' value of a trial (axes values are JSON text: `0.1`, `"adamw"`). */
export const LEVEL = `replaceAll(axes_values[indexOf(axes_names, ${AXIS})], '"', '')`;

/**
 * The chosen probe's column without putting the variable into the SQL as an identifier: an
 * array of every probe column indexed by the probe's position in the name list.
 */
export const PROBE_VALUE = `[${PROBE_NAMES.join(', ')}][indexOf([${PROBE_NAMES.map((p) => `'${p}'`).join(', ')}], ${PROBE})]`;

/** Epochs a trial plans to train: train.epochs, cut short by train.early_stop_epoch when set. */
export const PLANNED_EPOCHS = `if(visitParamExtractRaw(config_json, 'early_stop_epoch') IN ('', 'null'),
    visitParamExtractUInt(config_json, 'epochs'),
    least(visitParamExtractUInt(config_json, 'epochs'), visitParamExtractUInt(config_json, 'early_stop_epoch') + 1))`;

/** Latest state of each trial of the sweep, with its level on the chosen axis. */
export const TRIAL_LEVELS = `SELECT trial_id, seed, ${LEVEL} AS level
  FROM trials FINAL
  WHERE sweep_id = ${SWEEP}`;

/** The chosen probe per (trial, epoch), latest attempt only, rows without a value dropped. */
export const PROBE_ROWS = `SELECT trial_id, epoch, assumeNotNull(v) AS value
  FROM (
    SELECT trial_id, epoch, ${PROBE_VALUE} AS v
    FROM probe_events FINAL
    WHERE sweep_id = ${SWEEP}
  )
  WHERE isNotNull(v)`;

/**
 * The chosen user scalar per (trial, epoch), latest attempt only, from the parallel arrays
 * scalar_names/scalar_values; rows that did not report it are dropped (indexOf would give 0,
 * and the element 0, for them).
 */
export const SCALAR_ROWS = `SELECT trial_id, epoch, scalar_values[indexOf(scalar_names, ${SCALAR})] AS value
  FROM probe_events FINAL
  WHERE sweep_id = ${SWEEP} AND has(scalar_names, ${SCALAR})`;

/** Per trial: first epoch at which the probe crosses the threshold (the event), and whether it did. */
export const THRESHOLD_EVENTS = `SELECT trial_id,
    countIf(hit) > 0 AS reached,
    minIf(epoch, hit) AS event_epoch,
    max(epoch) AS last_epoch
  FROM (
    SELECT trial_id, epoch,
      if(${DIRECTION} = 'below', value <= toFloat64OrZero(${THRESHOLD}), value >= toFloat64OrZero(${THRESHOLD})) AS hit
    FROM (${PROBE_ROWS})
  )
  GROUP BY trial_id`;

/** Time buckets of the panel's interval: `toStartOfInterval` does not exist on 18.16. */
export function timeBucket(column: string): string {
  return `toDateTime(intDiv(toUInt32(${column}), $__interval_s) * $__interval_s)`;
}
