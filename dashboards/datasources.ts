// The two datasources every dashboard uses, by the uids the provisioning files give them, and
// a query builder for the ClickHouse plugin (the SDK ships none for it).
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type * as common from '@grafana/grafana-foundation-sdk/common';
import { DataqueryBuilder as PrometheusQueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';

export const CLICKHOUSE: common.DataSourceRef = {
  type: 'grafana-clickhouse-datasource',
  uid: 'phasesweep-clickhouse',
};
export const PROMETHEUS: common.DataSourceRef = { type: 'prometheus', uid: 'phasesweep-prometheus' };

/** The plugin's query types: `table` keeps rows as they are, `timeSeries` pivots long rows to series. */
export type ClickHouseQueryType = 'table' | 'timeSeries';

/** The plugin's SQL-editor query model (`CHSqlQuery`), as stored in dashboard JSON. */
export interface ClickHouseSqlQuery extends cog.Dataquery {
  refId: string;
  datasource: common.DataSourceRef;
  editorType: 'sql';
  queryType: ClickHouseQueryType;
  /** Older plugin versions read `format` instead of `queryType`: 0 time series, 1 table. */
  format: 0 | 1;
  rawSql: string;
}

export class ClickHouseQueryBuilder implements cog.Builder<cog.Dataquery> {
  private readonly query: ClickHouseSqlQuery;

  constructor(rawSql: string, queryType: ClickHouseQueryType = 'table', refId = 'A') {
    this.query = {
      refId,
      datasource: CLICKHOUSE,
      editorType: 'sql',
      queryType,
      format: queryType === 'table' ? 1 : 0,
      rawSql,
      _implementsDataqueryVariant: () => {},
    };
  }

  build(): cog.Dataquery {
    // The marker method exists for the type system only; JSON.stringify drops it.
    return { ...this.query };
  }
}

export function sql(rawSql: string, queryType: ClickHouseQueryType = 'table'): ClickHouseQueryBuilder {
  return new ClickHouseQueryBuilder(rawSql.trim(), queryType);
}

export function promql(expr: string, legend: string, refId = 'A'): PrometheusQueryBuilder {
  return new PrometheusQueryBuilder()
    .expr(expr)
    .legendFormat(legend)
    .range()
    .refId(refId)
    .datasource(PROMETHEUS);
}
