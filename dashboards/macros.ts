// Expands panel SQL the way Grafana and the ClickHouse plugin do before it reaches the server:
// template variables first (Grafana's frontend), then the plugin's time macros (its backend).
// Lets tests run every panel's SQL against a real ClickHouse without a Grafana server. Pure.

export interface ExpandContext {
  /** Dashboard time range, Unix seconds (the plugin truncates to whole seconds). */
  fromS: number;
  toS: number;
  /** The panel's interval in seconds; the plugin never lets it drop below 1. */
  intervalS: number;
  /** Template variable values by name; an array is a multi-value selection. */
  variables: Readonly<Record<string, string | readonly string[]>>;
}

export class MacroError extends Error {
  override readonly name = 'MacroError';
}

// Grafana's variable syntax: $name, [[name]] / [[name:format]], ${name} / ${name:format}.
const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?::([^}]+))?\}/g;

/** Grafana's `sqlstring` format: single quotes doubled, each value quoted, values joined by commas. */
export function sqlString(value: string | readonly string[]): string {
  const one = (v: string) => `'${v.replace(/'/g, "''")}'`;
  return typeof value === 'string' ? one(value) : value.map(one).join(',');
}

function formatValue(name: string, value: string | readonly string[], format: string | undefined): string {
  switch (format) {
    case 'sqlstring':
      return sqlString(value);
    case 'csv':
      return typeof value === 'string' ? value : value.join(',');
    case 'raw':
    case undefined:
      if (typeof value !== 'string') {
        throw new MacroError(`variable ${name} has several values: give it a format (sqlstring, csv)`);
      }
      return value;
    default:
      throw new MacroError(`variable ${name}: format "${format}" is not supported here`);
  }
}

/** Template variables only; Grafana's own `$__…` names are left for the plugin's macros. */
export function interpolateVariables(sql: string, variables: ExpandContext['variables']): string {
  return sql.replace(
    VARIABLE,
    (whole, plain?: string, bracket?: string, bracketFmt?: string, braced?: string, bracedFmt?: string) => {
      const name = plain ?? bracket ?? braced ?? '';
      if (name.startsWith('__')) return whole;
      const value = variables[name];
      if (value === undefined) throw new MacroError(`unknown template variable "${name}" in ${whole}`);
      return formatValue(name, value, bracketFmt ?? bracedFmt);
    },
  );
}

/**
 * The macros that work on every ClickHouse version (the plugin renders them with `toDateTime`
 * of whole seconds). The `_ms` variants and `$__timeInterval` need functions 18.16 lacks, so
 * any other `$__name` is an error here rather than a surprise on an old server.
 */
export function expandTimeMacros(sql: string, ctx: Omit<ExpandContext, 'variables'>): string {
  const from = Math.floor(ctx.fromS);
  const to = Math.floor(ctx.toS);
  const interval = Math.max(1, Math.floor(ctx.intervalS));
  const out = sql
    .replace(/\$__timeFilter\(([^()]*)\)/g, (_m, col: string) => {
      const c = col.trim();
      if (c === '') throw new MacroError('$__timeFilter needs a column');
      return `${c} >= toDateTime(${from}) AND ${c} <= toDateTime(${to})`;
    })
    .replace(/\$__fromTime\b(?!_)/g, `toDateTime(${from})`)
    .replace(/\$__toTime\b(?!_)/g, `toDateTime(${to})`)
    .replace(/\$__interval_s\b/g, String(interval));
  const left = /\$__\w+/.exec(out);
  if (left !== null) throw new MacroError(`macro ${left[0]} is not supported on ClickHouse 18.16`);
  return out;
}

export function expandPanelSql(sql: string, ctx: ExpandContext): string {
  return expandTimeMacros(interpolateVariables(sql, ctx.variables), ctx);
}
