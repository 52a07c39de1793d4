// Renders the kustomizations under deploy/k8s without the kustomize binary, which cannot be
// installed here. It implements only what those files use and throws on anything else, so a
// kustomization that grows a feature fails the tests instead of rendering something kustomize won't.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

type Json = Record<string, unknown>;

const SUPPORTED_KEYS = new Set([
  'apiVersion',
  'kind',
  'namespace',
  'labels',
  'resources',
  'configMapGenerator',
  'generatorOptions',
  'patches',
  'images',
]);

// Kinds the namespace transformer leaves alone.
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'PersistentVolume',
  'StorageClass',
]);

// patchMergeKey of the list fields the patches touch (from the Kubernetes API's field metadata);
// every other list is replaced whole, as strategic merge does for lists without a merge key.
const MERGE_KEYS: Record<string, (item: Json) => string> = {
  containers: () => 'name',
  initContainers: () => 'name',
  env: () => 'name',
  volumes: () => 'name',
  volumeMounts: () => 'mountPath',
  imagePullSecrets: () => 'name',
  ports: (item) => ('containerPort' in item ? 'containerPort' : 'port'),
};

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseYamlFile(file: string): unknown[] {
  // merge: Compose files share settings through YAML merge keys (`<<: *app`).
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { merge: true });
  const out: unknown[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

function asObject(value: unknown, where: string): K8sObject {
  if (!isObject(value) || typeof value['apiVersion'] !== 'string' || typeof value['kind'] !== 'string')
    throw new Error(`${where}: not a Kubernetes object`);
  const meta = value['metadata'];
  if (!isObject(meta) || typeof meta['name'] !== 'string') throw new Error(`${where}: no metadata.name`);
  return value as K8sObject;
}

export const objectId = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;

/** Strategic merge of `patch` into `base` (a new value; neither argument changes). */
export function strategicMerge(base: unknown, patch: unknown, field = ''): unknown {
  if (Array.isArray(patch)) {
    const keyOf = MERGE_KEYS[field];
    if (!Array.isArray(base) || keyOf === undefined || !patch.every(isObject)) return structuredClone(patch);
    const merged = base.map((b) => structuredClone(b) as unknown);
    for (const item of patch) {
      const key = keyOf(item);
      const at = merged.findIndex((b) => isObject(b) && b[key] === item[key]);
      if (at === -1) merged.push(structuredClone(item));
      else merged[at] = strategicMerge(merged[at], item, field);
    }
    return merged;
  }
  if (!isObject(patch) || !isObject(base)) return structuredClone(patch);
  const out: Json = structuredClone(base);
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) throw new Error(`strategic merge directive ${k} is not supported here`);
    if (v === null) delete out[k];
    else out[k] = k in out ? strategicMerge(out[k], v, k) : structuredClone(v);
  }
  return out;
}

function podSpecs(o: K8sObject): Json[] {
  const spec = o['spec'];
  if (!isObject(spec)) return [];
  if (o.kind === 'Pod') return [spec];
  const template = spec['template'];
  return isObject(template) && isObject(template['spec']) ? [template['spec']] : [];
}

/** Every container (init containers too) of a workload's pod template. */
export function containersOf(o: K8sObject): Json[] {
  return podSpecs(o).flatMap((spec) =>
    [spec['initContainers'], spec['containers']].flatMap((list) =>
      Array.isArray(list) ? list.filter(isObject) : [],
    ),
  );
}

function imageName(ref: string): { name: string; tag: string } {
  const at = ref.indexOf('@');
  const base = at === -1 ? ref : ref.slice(0, at);
  const colon = base.lastIndexOf(':');
  if (colon > base.lastIndexOf('/')) return { name: base.slice(0, colon), tag: base.slice(colon) };
  return { name: base, tag: at === -1 ? '' : ref.slice(at) };
}

interface ImageRule {
  name: string;
  newName?: string;
  newTag?: string;
}

function applyImages(objects: K8sObject[], rules: ImageRule[]): void {
  for (const c of objects.flatMap(containersOf)) {
    if (typeof c['image'] !== 'string') continue;
    const { name, tag } = imageName(c['image']);
    const rule = rules.find((r) => r.name === name);
    if (rule) c['image'] = `${rule.newName ?? name}${rule.newTag === undefined ? tag : `:${rule.newTag}`}`;
  }
}

function generateConfigMaps(dir: string, k: Json): K8sObject[] {
  const generators = (k['configMapGenerator'] ?? []) as Json[];
  if (generators.length === 0) return [];
  const options = k['generatorOptions'];
  if (!isObject(options) || options['disableNameSuffixHash'] !== true)
    throw new Error(
      `${dir}: configMapGenerator without disableNameSuffixHash (name hashes) is not supported here`,
    );
  return generators.map((g) => {
    for (const key of Object.keys(g))
      if (key !== 'name' && key !== 'files')
        throw new Error(`${dir}: configMapGenerator.${key} is not supported here`);
    const data: Record<string, string> = {};
    for (const entry of g['files'] as string[]) {
      const [key, file] = entry.includes('=')
        ? (entry.split('=', 2) as [string, string])
        : [path.basename(entry), entry];
      data[key] = readFileSync(path.join(dir, file), 'utf8');
    }
    return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: g['name'] as string }, data };
  });
}

/** The objects `kubectl kustomize DIR` would print for the kustomizations in this repository. */
export function renderKustomization(dir: string): K8sObject[] {
  const file = path.join(dir, 'kustomization.yaml');
  const [k] = parseYamlFile(file) as [Json];
  for (const key of Object.keys(k))
    if (!SUPPORTED_KEYS.has(key)) throw new Error(`${file}: "${key}" is not supported here`);

  const objects: K8sObject[] = [];
  for (const res of (k['resources'] ?? []) as string[]) {
    const p = path.join(dir, res);
    if (!existsSync(p)) throw new Error(`${file}: resource ${res} does not exist`);
    if (statSync(p).isDirectory()) objects.push(...renderKustomization(p));
    else objects.push(...parseYamlFile(p).map((doc, i) => asObject(doc, `${p}#${i}`)));
  }
  objects.push(...generateConfigMaps(dir, k));

  const seen = new Set<string>();
  for (const o of objects) {
    if (seen.has(objectId(o))) throw new Error(`${file}: ${objectId(o)} is defined twice`);
    seen.add(objectId(o));
  }

  for (const patch of (k['patches'] ?? []) as Json[]) {
    if (Object.keys(patch).some((key) => key !== 'path'))
      throw new Error(`${file}: only patches[].path is supported here`);
    const patchFile = path.join(dir, patch['path'] as string);
    for (const doc of parseYamlFile(patchFile)) {
      const p = asObject(doc, patchFile);
      const at = objects.findIndex((o) => o.kind === p.kind && o.metadata.name === p.metadata.name);
      if (at === -1) throw new Error(`${patchFile}: patch target ${objectId(p)} not found`);
      objects[at] = strategicMerge(objects[at], p) as K8sObject;
    }
  }

  if (typeof k['namespace'] === 'string') {
    for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k['namespace'];
  }
  for (const rule of (k['labels'] ?? []) as Json[]) {
    if (rule['includeSelectors'] === true || rule['includeTemplates'] === true)
      throw new Error(`${file}: labels with includeSelectors/includeTemplates are not supported here`);
    for (const o of objects)
      o.metadata.labels = { ...o.metadata.labels, ...(rule['pairs'] as Record<string, string>) };
  }
  applyImages(objects, (k['images'] ?? []) as ImageRule[]);
  return objects;
}
