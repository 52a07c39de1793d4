// The template variables of the sweep dashboards: which sweep, which axis splits the series,
// which probe (or user scalar) is plotted, and the threshold that defines a phase event.
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import {
  CustomVariableBuilder,
  QueryVariableBuilder,
  TextBoxVariableBuilder,
  VariableRefresh,
  VariableSort,
  type VariableModel,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PROBE_NAMES } from '../spec/probes.js';
import { CLICKHOUSE } from './datasources.js';
import { SWEEP } from './sql-parts.js';

export const SWEEP_VARIABLE_SQL = 'SELECT DISTINCT sweep_id FROM trials ORDER BY sweep_id';
export const AXIS_VARIABLE_SQL = `SELECT DISTINCT arrayJoin(axes_names) AS axis FROM trials WHERE sweep_id = ${SWEEP} ORDER BY axis`;
export const SCALAR_VARIABLE_SQL = `SELECT DISTINCT arrayJoin(scalar_names) AS scalar FROM probe_events WHERE sweep_id = ${SWEEP} ORDER BY scalar`;

function option(value: string) {
  return { text: value, value, selected: true };
}

export function sweepVariables(): cog.Builder<VariableModel>[] {
  return [
    new QueryVariableBuilder('sweep')
      .label('Sweep')
      .datasource(CLICKHOUSE)
      .query(SWEEP_VARIABLE_SQL)
      .definition(SWEEP_VARIABLE_SQL)
      .refresh(VariableRefresh.OnDashboardLoad)
      .sort(VariableSort.AlphabeticalAsc),
    new QueryVariableBuilder('axis')
      .label('Axis')
      .datasource(CLICKHOUSE)
      .query(AXIS_VARIABLE_SQL)
      .definition(AXIS_VARIABLE_SQL)
      .refresh(VariableRefresh.OnDashboardLoad)
      .sort(VariableSort.AlphabeticalAsc),
    new CustomVariableBuilder('probe').label('Probe').values(PROBE_NAMES.join(',')).current(option('loss')),
  ];
}

/** The user scalars (a command trainer's own names) that the sweep's probe events carry. */
export function scalarVariable(): cog.Builder<VariableModel> {
  return new QueryVariableBuilder('scalar')
    .label('User scalar')
    .description("A trainer's own scalar (any name it reports that is not a probe)")
    .datasource(CLICKHOUSE)
    .query(SCALAR_VARIABLE_SQL)
    .definition(SCALAR_VARIABLE_SQL)
    .refresh(VariableRefresh.OnDashboardLoad)
    .sort(VariableSort.AlphabeticalAsc);
}

export function thresholdVariables(): cog.Builder<VariableModel>[] {
  return [
    new TextBoxVariableBuilder('threshold')
      .label('Threshold')
      .description('A phase event is the first epoch at which the probe crosses this value')
      .defaultValue('0.9')
      .current(option('0.9')),
    new CustomVariableBuilder('direction').label('Crossing').values('above,below').current(option('above')),
  ];
}
