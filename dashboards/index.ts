// Every phasesweep dashboard, by the file name its JSON is committed under (dashboards/json/).
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { phaseTiming } from './phase-timing.js';
import { probeCurves } from './probe-curves.js';
import { serviceMetrics } from './service-metrics.js';
import { sweepOverview } from './sweep-overview.js';
import { workersPipeline } from './workers-pipeline.js';

export { expandPanelSql, interpolateVariables, expandTimeMacros, sqlString, MacroError } from './macros.js';
export type { ExpandContext } from './macros.js';
export { CLICKHOUSE, PROMETHEUS } from './datasources.js';

export const DASHBOARDS: Readonly<Record<string, () => { build(): Dashboard }>> = {
  'sweep-overview': sweepOverview,
  'probe-curves': probeCurves,
  'phase-timing': phaseTiming,
  'workers-pipeline': workersPipeline,
  'service-metrics': serviceMetrics,
};

/** The committed JSON text of one dashboard: stable key order from the builders, 2-space indent. */
export function dashboardJson(name: string): string {
  const make = DASHBOARDS[name];
  if (make === undefined) throw new Error(`no dashboard named ${name}`);
  return `${JSON.stringify(make().build(), null, 2)}\n`;
}

/** dashboards/json/ in the source tree, whether this module runs from source or from dist/. */
export const JSON_DIR = fileURLToPath(new URL('./json/', import.meta.url)).replace(
  `${sep}dist${sep}dashboards${sep}`,
  `${sep}dashboards${sep}`,
);
