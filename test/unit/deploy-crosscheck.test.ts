// Everything the deployment files and docs/cluster.md ask of phasesweep exists in the code:
// commands, flags (from each command's --help), ports (against documented defaults), environment
// variables (read by the code), health paths (served by the ops server), and the Grafana wiring.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  defaultPort,
  envVarsReadByCode,
  flagsOfHelp,
  hasSubcommands,
  helpOf,
  opsServerPaths,
  phasesweepCommandsIn,
  ROOT,
} from '../support/deploy-cli.js';
import { containersOf, objectId, parseYamlFile, renderKustomization } from '../support/deploy-kustomize.js';
import { interpolate, interpolatedNames } from '../support/deploy-schemas.js';

type Json = Record<string, unknown>;

/** One phasesweep process as a deployment file runs it. */
interface Proc {
  where: string;
  argv: string[];
  env: string[];
  ports: Map<string, number>;
  probes: { path: string; port: number | string }[];
}

// Variables phasesweep containers may set that the code does not read: each is read by
// something else in the container.
const FOREIGN_ENV: Record<string, string> = {
  TF_FORCE_GPU_ALLOW_GROWTH: 'libtensorflow (tfjs-node-gpu): allocate GPU memory as needed',
};

const objects = [
  ...renderKustomization(path.join(ROOT, 'deploy/k8s/base')),
  ...renderKustomization(path.join(ROOT, 'deploy/k8s/overlays/gpu')),
];
const isPhasesweep = (image: unknown) => typeof image === 'string' && /^phasesweep(-gpu)?(:|$)/.test(image);

const k8sProcs: Proc[] = objects.flatMap((o) =>
  containersOf(o)
    .filter((c) => isPhasesweep(c['image']))
    .map((c) => ({
      where: `k8s ${objectId(o)}`,
      argv: c['args'] as string[],
      env: ((c['env'] ?? []) as Json[]).map((e) => e['name'] as string),
      ports: new Map(
        ((c['ports'] ?? []) as Json[]).map((p) => [p['name'] as string, p['containerPort'] as number]),
      ),
      probes: ['livenessProbe', 'readinessProbe', 'startupProbe']
        .map((k) => (c[k] as Json | undefined)?.['httpGet'] as Json | undefined)
        .filter((g) => g !== undefined)
        .map((g) => ({ path: g['path'] as string, port: g['port'] as number | string })),
    })),
);

const composeText = readFileSync(path.join(ROOT, 'deploy/compose/compose.yaml'), 'utf8');
const compose = interpolate(parseYamlFile(path.join(ROOT, 'deploy/compose/compose.yaml'))[0], {}) as {
  services: Record<string, Json>;
};
const composeProcs: Proc[] = Object.entries(compose.services)
  .filter(([, s]) => isPhasesweep(s['image']))
  .map(([name, s]) => {
    const test = ((s['healthcheck'] as Json | undefined)?.['test'] ?? []) as string[];
    const url = /http:\/\/[^:/]+:(\d+)(\/[a-z]+)/.exec(test.join(' '));
    return {
      where: `compose ${name}`,
      argv: s['command'] as string[],
      env: Object.keys(s['environment'] ?? {}),
      // Compose names no ports: the published container ports, and the port the health check
      // dials as `http`.
      ports: new Map([
        ...((s['ports'] ?? []) as string[]).map((p) => [p, Number(p.split(':').pop())] as const),
        ...(url ? [['http', Number(url[1])] as const] : []),
      ]),
      probes: url ? [{ path: url[2]!, port: Number(url[1]) }] : [],
    };
  });

const procs = [...k8sProcs, ...composeProcs];
const flagValue = (argv: string[], flag: string) => {
  const i = argv.indexOf(`--${flag}`);
  return i === -1 ? undefined : argv[i + 1];
};
const portOf = (hostPort: string) => Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));

describe('phasesweep processes in the deployment files', () => {
  it('are found in both the Kubernetes manifests and the Compose file', () => {
    const commands = (ps: Proc[]) => [...new Set(ps.map((p) => p.argv[0]))].sort();
    expect(commands(k8sProcs)).toEqual(['coordinator', 'ingest', 'worker']);
    expect(commands(composeProcs)).toEqual(['coordinator', 'ingest', 'worker']);
  });

  it.each(procs.map((p) => [p.where, p] as const))(
    '%s: uses only commands and flags that exist',
    async (_, p) => {
      const help = await helpOf([p.argv[0]!]);
      const flags = flagsOfHelp(help);
      const used = p.argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]!);
      const unknown = used.filter((f) => !flags.has(f));
      expect(
        unknown,
        `${p.where}: flags not in \`phasesweep ${p.argv[0]} --help\` (it lists ${[...flags.keys()].join(', ')})`,
      ).toEqual([]);
    },
  );

  it.each(procs.map((p) => [p.where, p] as const))(
    '%s: listens where its ports and probes say',
    async (_, p) => {
      const flags = flagsOfHelp(await helpOf([p.argv[0]!]));
      for (const flag of ['listen', 'http']) {
        const value = flagValue(p.argv, flag);
        if (value === undefined) continue;
        const port = portOf(value);
        const documented = defaultPort(flags.get(flag));
        // Prometheus configs and dashboards assume the default ports; keep to them.
        if (documented !== undefined)
          expect(port, `${p.where} --${flag} vs its documented default`).toBe(documented);
        expect([...p.ports.values()], `${p.where}: no container port for --${flag} ${value}`).toContain(port);
      }
      const http = flagValue(p.argv, 'http');
      expect(p.probes.length, `${p.where} has no health probe`).toBeGreaterThan(0);
      for (const probe of p.probes) {
        const port = typeof probe.port === 'string' ? p.ports.get(probe.port) : probe.port;
        expect(port, `${p.where}: probe ${probe.path} must dial the --http port`).toBe(http && portOf(http));
      }
    },
  );

  it('probe only paths the ops server answers', () => {
    const served = opsServerPaths();
    expect([...served], 'observability/ops-server.ts answers no paths').not.toEqual([]);
    for (const p of procs)
      for (const probe of p.probes)
        expect([...served], `${p.where}: ${probe.path}`).toContain(probe.path.split('?')[0]);
  });

  it('set only environment variables the code (or a named library) reads, and define every $(VAR)', () => {
    const read = envVarsReadByCode();
    for (const p of k8sProcs) {
      const expanded = new Set(
        p.argv.flatMap((a) => [...a.matchAll(/\$\(([A-Z0-9_]+)\)/g)].map((m) => m[1]!)),
      );
      for (const name of expanded) expect(p.env, `${p.where}: $(${name}) is not in env`).toContain(name);
      for (const name of p.env)
        expect(
          read.has(name) || expanded.has(name) || name in FOREIGN_ENV,
          `${p.where}: ${name} is read by nothing`,
        ).toBe(true);
    }
    for (const p of composeProcs)
      for (const name of p.env)
        expect(read.has(name) || name in FOREIGN_ENV, `${p.where}: ${name} is read by nothing`).toBe(true);
  });
});

describe('Grafana wiring', () => {
  const datasources = readFileSync(
    path.join(ROOT, 'deploy/grafana/provisioning/datasources/phasesweep.yaml'),
    'utf8',
  );
  const wanted = interpolatedNames(datasources);
  const own = (names: string[]) => names.filter((n) => n.startsWith('PHASESWEEP_')).sort();

  it('sets exactly the variables the datasource provisioning expands', () => {
    const grafana = objects.find((o) => objectId(o) === 'Deployment/grafana')!;
    const k8sEnv = ((containersOf(grafana)[0]!['env'] ?? []) as Json[]).map((e) => e['name'] as string);
    const composeEnv = Object.keys(compose.services['grafana']!['environment'] as Json);
    expect(own(k8sEnv)).toEqual([...wanted].sort());
    expect(own(composeEnv)).toEqual([...wanted].sort());
  });

  it('points ClickHouse at the database the ingesters write', () => {
    const grafana = objects.find((o) => objectId(o) === 'Deployment/grafana')!;
    const env = (containersOf(grafana)[0]!['env'] ?? []) as Json[];
    const db = env.find((e) => e['name'] === 'PHASESWEEP_CLICKHOUSE_DATABASE')?.['value'];
    for (const p of procs.filter((x) => x.argv[0] === 'ingest'))
      expect(flagValue(p.argv, 'database')).toBe(db);
  });
});

describe('docs/cluster.md', () => {
  const doc = readFileSync(path.join(ROOT, 'docs/cluster.md'), 'utf8');

  it('runs only phasesweep commands and flags that exist', async () => {
    const commands = phasesweepCommandsIn(doc);
    expect(commands.length).toBeGreaterThan(3);
    for (const argv of commands) {
      const words = (await hasSubcommands(argv[0]!)) ? argv.slice(0, 2) : argv.slice(0, 1);
      const flags = flagsOfHelp(await helpOf(words));
      for (const a of argv.filter((w) => w.startsWith('--')))
        expect(flags.has(a.slice(2).split('=')[0]!), `docs: phasesweep ${argv.join(' ')}: ${a}`).toBe(true);
    }
  });

  it('creates every Secret the manifests mount, with the keys they read', () => {
    const refs = new Set<string>();
    for (const o of objects) {
      const text = JSON.stringify(o);
      for (const m of text.matchAll(/"secretKeyRef":\{"name":"([^"]+)","key":"([^"]+)"\}/g))
        refs.add(`${m[1]} ${m[2]}`);
      for (const m of text.matchAll(/"secret":\{"secretName":"([^"]+)"\}/g)) refs.add(`${m[1]} token`);
    }
    expect(refs.size).toBeGreaterThan(0);
    for (const ref of refs) {
      const [name, key] = ref.split(' ') as [string, string];
      expect(doc, `docs must create secret ${name} with key ${key}`).toMatch(
        new RegExp(`kubectl[^\\n]*create secret generic ${name}\\b[^\\n]*--from-[a-z]+=${key}=`),
      );
    }
  });

  it('names every variable the Compose file interpolates', () => {
    for (const name of interpolatedNames(composeText)) expect(doc, `docs: ${name}`).toContain(name);
  });
});
