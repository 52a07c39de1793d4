// deploy/compose and the Dockerfile: the Compose file validates against the Compose
// Specification's schema, the GPU worker reserves a GPU on the CUDA image, and every path the
// files mount or build from exists.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/deploy-cli.js';
import { parseYamlFile } from '../support/deploy-kustomize.js';
import { composeSchemaErrors, interpolate } from '../support/deploy-schemas.js';

type Json = Record<string, unknown>;
const COMPOSE_DIR = path.join(ROOT, 'deploy', 'compose');
const raw = parseYamlFile(path.join(COMPOSE_DIR, 'compose.yaml'))[0] as Json;
// Compose interpolates, then validates; with no variables set every default applies.
const compose = interpolate(raw, {}) as Json;
const services = compose['services'] as Record<string, Json>;
const dockerfile = readFileSync(path.join(ROOT, 'deploy', 'docker', 'Dockerfile'), 'utf8');

describe('compose.yaml', () => {
  it('validates against the Compose Specification schema', () => {
    expect(composeSchemaErrors(compose)).toEqual([]);
  });

  it('fails the schema on an unknown key (the check can fail)', () => {
    const bad = structuredClone(compose);
    (bad['services'] as Record<string, Json>)['worker']!['replica'] = 2;
    expect(composeSchemaErrors(bad).join('\n')).toMatch(/services\/worker .*additional/);
  });

  it('runs every component, NATS with JetStream on a volume', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['clickhouse', 'coordinator', 'grafana', 'ingest', 'nats', 'prometheus', 'worker', 'worker-gpu'].sort(),
    );
    expect(services['nats']!['command']).toContain('--jetstream');
    expect(services['nats']!['volumes']).toContain('nats-data:/data');
    expect(services['clickhouse']!['image']).toMatch(/^clickhouse\/clickhouse-server:24\./);
  });

  it('reserves an NVIDIA GPU for the GPU worker, on the gpu build target', () => {
    const gpu = services['worker-gpu']!;
    const devices = (((gpu['deploy'] as Json)['resources'] as Json)['reservations'] as Json)[
      'devices'
    ] as Json[];
    expect(devices).toEqual([expect.objectContaining({ driver: 'nvidia', capabilities: ['gpu'] })]);
    expect(gpu['build']).toMatchObject({ dockerfile: 'deploy/docker/Dockerfile', target: 'gpu' });
    const args = gpu['command'] as string[];
    expect(args[args.indexOf('--engine') + 1]).toBe('tensorflow-gpu');
    expect(gpu['profiles']).toEqual(['gpu']);
    expect((services['worker']!['build'] as Json)['target']).toBe('cpu');
  });

  it('mounts paths that exist, Grafana provisioning where its provider looks', () => {
    for (const [name, svc] of Object.entries(services)) {
      const build = svc['build'] as Json | undefined;
      if (build) {
        expect(existsSync(path.join(COMPOSE_DIR, build['context'] as string)), name).toBe(true);
        expect(
          existsSync(path.join(COMPOSE_DIR, build['context'] as string, build['dockerfile'] as string)),
        ).toBe(true);
      }
      for (const v of (svc['volumes'] ?? []) as string[]) {
        const source = v.split(':')[0]!;
        if (source.startsWith('.'))
          expect(existsSync(path.join(COMPOSE_DIR, source)), `${name}: ${v}`).toBe(true);
      }
    }
    const provider = parseYamlFile(
      path.join(ROOT, 'deploy', 'grafana', 'provisioning', 'dashboards', 'phasesweep.yaml'),
    )[0] as { providers: { options: { path: string } }[] };
    expect(services['grafana']!['volumes']).toContain(
      `../../dashboards/json:${provider.providers[0]!.options.path}:ro`,
    );
  });
});

describe('Dockerfile', () => {
  const stages = [...dockerfile.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gm)].map((m) => m[2]);
  const arg = (name: string) => new RegExp(`^ARG ${name}=(\\S+)`, 'm').exec(dockerfile)?.[1];

  it('has the cpu and gpu targets the Compose file and the docs build', () => {
    expect(stages).toEqual(expect.arrayContaining(['build', 'cpu', 'gpu']));
  });

  it('builds on Node 20 and puts the GPU worker on CUDA 11.2 with cuDNN 8', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      engines: { node: string };
      dependencies: Record<string, string>;
    };
    expect(arg('NODE_IMAGE')).toMatch(/^node:20-/);
    expect(pkg.engines.node).toBe('>=20');
    expect(arg('CUDA_IMAGE')).toMatch(/^nvidia\/cuda:11\.2\.\d+-cudnn8-runtime-/);
    // tfjs-node-gpu must match the tfjs the worker imports: it registers a backend for that tfjs.
    const tfjs = pkg.dependencies['@tensorflow/tfjs']!.replace(/^[\^~]/, '');
    expect(arg('TFJS_NODE_GPU_VERSION')!.split('.').slice(0, 2)).toEqual(tfjs.split('.').slice(0, 2));
  });

  it('starts the phasesweep CLI and leaves host builds out of the context', () => {
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "\/app\/bin\/phasesweep\.js"\]/);
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(
      expect.arrayContaining(['node_modules', 'dist', '.git', 'deploy/compose/secrets']),
    );
  });
});
