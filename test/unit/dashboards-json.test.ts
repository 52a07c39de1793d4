// Dashboards as code: the committed JSON matches the TypeScript, every query stays within what
// ClickHouse 18.16 and the plugin's portable macros allow, and the macro expander is faithful.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CLICKHOUSE,
  DASHBOARDS,
  dashboardJson,
  expandPanelSql,
  interpolateVariables,
  JSON_DIR,
  MacroError,
  PROMETHEUS,
} from '../../dashboards/index.js';
import { createCoordinatorMetrics } from '../../coordinator/index.js';
import { createRegistry } from '../../observability/index.js';
import { createIngestMetrics } from '../../pipeline/index.js';
import { createWorkerMetrics } from '../../worker/index.js';

interface Panel {
  type: string;
  title: string;
  datasource?: { uid?: string };
  targets?: { rawSql?: string; expr?: string; datasource?: { uid?: string } }[];
}

const built = Object.keys(DASHBOARDS).map((name) => ({
  name,
  json: JSON.parse(dashboardJson(name)) as {
    uid: string;
    panels: Panel[];
    templating: { list: { name: string; query?: unknown }[] };
  },
}));
const sqlTexts = built.flatMap((d) => [
  ...d.json.panels.flatMap((p) =>
    (p.targets ?? []).flatMap((t) => (t.rawSql === undefined ? [] : [t.rawSql])),
  ),
  ...d.json.templating.list.flatMap((v) =>
    typeof v.query === 'string' && /SELECT/i.test(v.query) ? [v.query] : [],
  ),
]);

describe('committed dashboard JSON', () => {
  it('is what `npm run dashboards:gen` writes (regenerate after changing dashboards/*.ts)', () => {
    const files = readdirSync(JSON_DIR)
      .filter((f) => f.endsWith('.json'))
      .sort();
    expect(files).toEqual(
      Object.keys(DASHBOARDS)
        .map((n) => `${n}.json`)
        .sort(),
    );
    for (const name of Object.keys(DASHBOARDS)) {
      expect(
        readFileSync(join(JSON_DIR, `${name}.json`), 'utf8'),
        `dashboards/json/${name}.json is stale`,
      ).toBe(dashboardJson(name));
    }
  });

  it('has unique uids, and every panel names a provisioned datasource', () => {
    expect(new Set(built.map((d) => d.json.uid)).size).toBe(built.length);
    for (const d of built)
      for (const p of d.json.panels.filter((x) => x.type !== 'row')) {
        expect([CLICKHOUSE.uid, PROMETHEUS.uid], `${d.name}: ${p.title}`).toContain(p.datasource?.uid);
        expect(p.targets?.length, `${d.name}: ${p.title}`).toBeGreaterThan(0);
      }
  });

  it('sweep dashboards carry sweep, axis and probe variables', () => {
    for (const d of built.filter((x) => x.name !== 'service-metrics')) {
      const names = d.json.templating.list.map((v) => v.name);
      expect(names, d.name).toEqual(expect.arrayContaining(['sweep', 'axis', 'probe']));
    }
  });

  it('uses only macros and SQL that run on ClickHouse 18.16', () => {
    expect(sqlTexts.length).toBeGreaterThan(10);
    for (const text of sqlTexts) {
      expect(text).not.toMatch(/\$__\w+_ms\b|\$__timeInterval|\$__dateFilter|\$__conditionalAll/);
      expect(text).not.toMatch(
        /\bOVER\s*\(|\bWITH\s+\w+\s+AS\s*\(|(?<!\$)\{\w+:\w+\}|toStartOfInterval|DateTime64|JSONExtract|\bMap\(/i,
      );
      // Variables only as escaped string literals.
      for (const m of text.matchAll(/\$\{?(\w+)(?::(\w+))?\}?/g)) {
        if (m[1]!.startsWith('__')) continue;
        expect(m[2], `${m[0]} in ${text.slice(0, 60)}`).toBe('sqlstring');
      }
    }
  });
});

describe('macro expander', () => {
  const ctx = {
    fromS: 100.9,
    toS: 200,
    intervalS: 0.2,
    variables: { sweep: "a'b", axis: 'wd', many: ['x', "y'"] },
  };

  it('renders the plugin macros with whole seconds and an interval of at least 1 s', () => {
    expect(
      expandPanelSql(
        'WHERE $__timeFilter(time) AND t > $__fromTime AND t < $__toTime GROUP BY $__interval_s',
        ctx,
      ),
    ).toBe(
      'WHERE time >= toDateTime(100) AND time <= toDateTime(200) AND t > toDateTime(100) AND t < toDateTime(200) GROUP BY 1',
    );
  });

  it('quotes variables like Grafana’s sqlstring format', () => {
    expect(
      interpolateVariables(
        's = ${sweep:sqlstring} AND a = $axis AND [[axis]] IN (${many:sqlstring})',
        ctx.variables,
      ),
    ).toBe("s = 'a''b' AND a = wd AND wd IN ('x','y''')");
  });

  it('refuses unknown variables, unportable macros and unformatted multi-values', () => {
    expect(() => expandPanelSql('x = $nope', ctx)).toThrow(MacroError);
    expect(() => expandPanelSql('$__timeFilter_ms(t)', ctx)).toThrow(/not supported on ClickHouse 18.16/);
    expect(() => expandPanelSql('$__timeInterval(t)', ctx)).toThrow(MacroError);
    expect(() => expandPanelSql('x IN ($many)', ctx)).toThrow(/several values/);
  });
});

describe('Prometheus panels', () => {
  it('query only metrics that the coordinator, workers and ingesters export', async () => {
    const registry = createRegistry('test');
    createCoordinatorMetrics(registry);
    createWorkerMetrics(registry);
    createIngestMetrics(registry);
    const text = await registry.metrics();
    const exported = new Set(
      [...text.matchAll(/^# TYPE (\w+) (\w+)$/gm)].flatMap((m) =>
        m[2] === 'histogram' ? [`${m[1]}_bucket`, `${m[1]}_sum`, `${m[1]}_count`] : [m[1]!],
      ),
    );
    const exprs = built.flatMap((d) =>
      d.json.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => (t.expr === undefined ? [] : [t.expr]))),
    );
    expect(exprs.length).toBeGreaterThan(15);
    for (const expr of exprs)
      for (const m of expr.matchAll(/\b((?:phasesweep|process|nodejs)_\w+)/g))
        expect(exported, `${m[1]} in ${expr}`).toContain(m[1]);
  });
});
