// deploy/k8s: both kustomizations render, every object validates against the Kubernetes API
// schemas with no unknown field, and the wiring between objects (selectors, named ports,
// ConfigMaps, the GPU overlay's changes, the Grafana copies) holds.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../support/deploy-cli.js';
import {
  containersOf,
  objectId,
  parseYamlFile,
  renderKustomization,
  strategicMerge,
  type K8sObject,
} from '../support/deploy-kustomize.js';
import { k8sSchemaErrors, k8sUnknownFieldErrors } from '../support/deploy-schemas.js';

const K8S = path.join(ROOT, 'deploy', 'k8s');
const RENDERS = { base: 'base', gpu: 'overlays/gpu' } as const;
const rendered = Object.fromEntries(
  Object.entries(RENDERS).map(([k, dir]) => [k, renderKustomization(path.join(K8S, dir))]),
) as Record<keyof typeof RENDERS, K8sObject[]>;

type Json = Record<string, unknown>;
const find = (objects: K8sObject[], kind: string, name: string) => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind}/${name} not rendered`);
  return o;
};
const podSpec = (o: K8sObject) => ((o['spec'] as Json)['template'] as Json)['spec'] as Json;
const podLabels = (o: K8sObject) =>
  (((o['spec'] as Json)['template'] as Json)['metadata'] as Json)['labels'] as Record<string, string>;
const workloads = (objects: K8sObject[]) =>
  objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');

describe.each(Object.keys(RENDERS) as (keyof typeof RENDERS)[])('kustomization %s', (name) => {
  const objects = rendered[name];

  it('validates against the Kubernetes API schemas', async () => {
    const errors = (await Promise.all(objects.map(k8sSchemaErrors))).flat();
    expect(errors).toEqual([]);
    expect(objects.length).toBeGreaterThan(15);
  });

  it('has no field the API does not know', () => {
    expect(k8sUnknownFieldErrors(objects)).toEqual([]);
  });

  it('puts everything in the phasesweep namespace', () => {
    for (const o of objects) {
      if (o.kind === 'Namespace') expect(o.metadata.name).toBe('phasesweep');
      else expect(o.metadata.namespace, objectId(o)).toBe('phasesweep');
    }
  });

  it('gives every container requests, limits and probes', () => {
    for (const w of workloads(objects)) {
      for (const c of containersOf(w)) {
        const where = `${objectId(w)} ${String(c['name'])}`;
        const resources = c['resources'] as Json | undefined;
        expect(Object.keys((resources?.['requests'] ?? {}) as Json), where).toEqual(
          expect.arrayContaining(['cpu', 'memory']),
        );
        expect(Object.keys((resources?.['limits'] ?? {}) as Json), where).toEqual(
          expect.arrayContaining(['cpu', 'memory']),
        );
        expect(c['livenessProbe'], where).toBeDefined();
        expect(c['readinessProbe'], where).toBeDefined();
      }
    }
  });

  it('wires Services, named ports and ConfigMaps to objects that exist', () => {
    for (const svc of objects.filter((o) => o.kind === 'Service')) {
      const spec = svc['spec'] as Json;
      const selector = spec['selector'] as Record<string, string>;
      const targets = workloads(objects).filter((w) =>
        Object.entries(selector).every(([k, v]) => podLabels(w)[k] === v),
      );
      expect(targets.map(objectId), objectId(svc)).toHaveLength(1);
      const portNames = containersOf(targets[0]!).flatMap((c) =>
        ((c['ports'] ?? []) as Json[]).map((p) => p['name']),
      );
      for (const p of spec['ports'] as Json[]) expect(portNames, objectId(svc)).toContain(p['targetPort']);
    }
    for (const w of workloads(objects)) {
      const ports = containersOf(w).flatMap((c) => ((c['ports'] ?? []) as Json[]).map((p) => p['name']));
      for (const c of containersOf(w))
        for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
          const port = ((c[probe] as Json | undefined)?.['httpGet'] as Json | undefined)?.['port'];
          if (typeof port === 'string') expect(ports, `${objectId(w)} ${probe}`).toContain(port);
        }
      for (const v of (podSpec(w)['volumes'] ?? []) as Json[]) {
        const cm = v['configMap'] as Json | undefined;
        if (cm) expect(objects.map(objectId), objectId(w)).toContain(`ConfigMap/${String(cm['name'])}`);
      }
    }
  });

  it('runs one coordinator, replaced (never rolled) since its state is in JetStream KV', () => {
    const spec = find(objects, 'Deployment', 'coordinator')['spec'] as Json;
    expect(spec['replicas']).toBe(1);
    expect(spec['strategy']).toEqual({ type: 'Recreate' });
    expect((find(objects, 'Deployment', 'ingest')['spec'] as Json)['replicas']).toBeGreaterThan(1);
  });

  it('runs NATS as a three-node JetStream cluster whose routes name its own pods', () => {
    const sts = find(objects, 'StatefulSet', 'nats');
    const spec = sts['spec'] as Json;
    expect(spec['replicas']).toBe(3);
    const conf = (find(objects, 'ConfigMap', 'nats-config')['data'] as Record<string, string>)['nats.conf']!;
    expect(conf).toMatch(/jetstream\s*\{/);
    const routes = [...conf.matchAll(/nats:\/\/([a-z0-9-]+)\.([a-z0-9-]+):6222/g)];
    expect(routes.map((m) => m[1])).toEqual(['nats-0', 'nats-1', 'nats-2']);
    for (const m of routes) expect(m[2]).toBe(spec['serviceName']);
    expect((find(objects, 'Service', 'nats-headless')['spec'] as Json)['clusterIP']).toBe('None');
  });
});

describe('gpu overlay', () => {
  const worker = (objects: K8sObject[]) => containersOf(find(objects, 'Deployment', 'worker'))[0]!;
  const engineOf = (c: Json) => {
    const args = c['args'] as string[];
    return args[args.indexOf('--engine') + 1];
  };

  it('gives each worker one GPU, the CUDA image and --engine tensorflow-gpu', () => {
    const c = worker(rendered.gpu);
    const res = c['resources'] as Record<string, Record<string, unknown>>;
    expect(res['limits']?.['nvidia.com/gpu']).toBe(1);
    expect(engineOf(c)).toBe('tensorflow-gpu');
    expect(c['image']).toMatch(/^phasesweep-gpu(:|$)/);
    expect((podSpec(find(rendered.gpu, 'Deployment', 'worker'))['tolerations'] as Json[])[0]).toMatchObject({
      key: 'nvidia.com/gpu',
    });
  });

  it('keeps the base worker on CPU and changes nothing but the worker', () => {
    const c = worker(rendered.base);
    expect(JSON.stringify(c['resources'])).not.toContain('nvidia.com/gpu');
    expect(engineOf(c)).toBe('wasm');
    const others = (objects: K8sObject[]) =>
      JSON.stringify(objects.filter((o) => objectId(o) !== 'Deployment/worker'));
    expect(others(rendered.gpu)).toBe(others(rendered.base));
    // Only the args' engine differs: every other flag the base worker has, the GPU worker has too.
    const strip = (args: string[]) => args.filter((a) => a !== 'wasm' && a !== 'tensorflow-gpu');
    expect(strip(worker(rendered.gpu)['args'] as string[])).toEqual(strip(c['args'] as string[]));
    expect((worker(rendered.gpu)['env'] as Json[]).map((e) => e['name'])).toContain('POD_NAME');
  });
});

describe('Grafana files in the kustomize base', () => {
  const files = path.join(K8S, 'base', 'grafana', 'files');
  const hint = 'out of date: run deploy/k8s/sync-grafana.sh';

  it('are the provisioning files of deploy/grafana', () => {
    const provisioning = path.join(ROOT, 'deploy', 'grafana', 'provisioning');
    for (const [copy, source] of [
      ['datasources.yaml', 'datasources/phasesweep.yaml'],
      ['dashboards.yaml', 'dashboards/phasesweep.yaml'],
    ] as const) {
      const read = (p: string) => parse(readFileSync(p, 'utf8')) as unknown;
      expect(read(path.join(files, copy)), `${copy} ${hint}`).toEqual(read(path.join(provisioning, source)));
    }
  });

  it('are every dashboard of dashboards/json, and all of them are in the ConfigMap', () => {
    const dashboards = readdirSync(path.join(ROOT, 'dashboards', 'json')).filter((f) => f.endsWith('.json'));
    for (const f of dashboards) {
      const read = (dir: string) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as unknown;
      expect(read(files), `${f} ${hint}`).toEqual(read(path.join(ROOT, 'dashboards', 'json')));
    }
    const cm = find(rendered.base, 'ConfigMap', 'grafana-dashboards');
    expect(Object.keys(cm['data'] as Json).sort(), `grafana-dashboards ${hint}`).toEqual(dashboards.sort());
  });
});

describe('the checks themselves', () => {
  const deployment = parseYamlFile(path.join(K8S, 'base', 'phasesweep', 'coordinator.yaml'))[1] as K8sObject;

  it('catch a misspelt field, which the API schemas alone accept', async () => {
    const typo = structuredClone(deployment);
    (podSpec(typo)['containers'] as Json[])[0]!['readinesProbe'] = { httpGet: { path: '/x', port: 1 } };
    expect(await k8sSchemaErrors(typo)).toEqual([]);
    expect(k8sUnknownFieldErrors([typo]).join('\n')).toMatch(
      /Deployment\/coordinator: .*readinesProbe.*IContainer/,
    );
  });

  it('catch a malformed value', async () => {
    const bad = structuredClone(deployment);
    ((podSpec(bad)['containers'] as Json[])[0]!['resources'] as Json)['limits'] = { cpu: 'two' };
    expect((await k8sSchemaErrors(bad)).join('\n')).toMatch(/limits\/cpu/);
  });

  it('merge containers by name and replace args, as a strategic merge patch does', () => {
    const merged = strategicMerge(
      { containers: [{ name: 'a', args: ['x', 'y'], env: [{ name: 'A', value: '1' }] }, { name: 'b' }] },
      { containers: [{ name: 'a', args: ['z'], env: [{ name: 'B', value: '2' }] }] },
    );
    expect(merged).toEqual({
      containers: [
        {
          name: 'a',
          args: ['z'],
          env: [
            { name: 'A', value: '1' },
            { name: 'B', value: '2' },
          ],
        },
        { name: 'b' },
      ],
    });
    expect(() => strategicMerge({}, { $patch: 'delete' })).toThrow(/not supported/);
  });
});
