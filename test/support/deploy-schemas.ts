// Validation of the deployment files against their published schemas, offline: Kubernetes objects
// against the API's OpenAPI schemas (compiled to validators in `kubernetes-models`) plus a check
// for unknown fields, and the Compose file against the Compose Specification's JSON Schema.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import ts from 'typescript';
import { objectId, type K8sObject } from './deploy-kustomize.js';

const require = createRequire(import.meta.url);

/** `kubernetes-models/apps/v1` for `apps/v1`, `kubernetes-models/v1` for the core group. */
const modelModule = (apiVersion: string) => `kubernetes-models/${apiVersion}`;

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** Schema errors of one object, empty when it is valid. */
export async function k8sSchemaErrors(o: K8sObject): Promise<string[]> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(modelModule(o.apiVersion))) as Record<string, unknown>;
  } catch {
    return [`${objectId(o)}: unknown apiVersion ${o.apiVersion}`];
  }
  const Model = mod[o.kind] as ModelClass | undefined;
  if (Model === undefined) return [`${objectId(o)}: ${o.apiVersion} has no kind ${o.kind}`];
  try {
    new Model(o).validate();
    return [];
  } catch (err) {
    return [`${objectId(o)}: ${(err as Error).message}`];
  }
}

/**
 * Fields no schema knows: the OpenAPI schemas leave `additionalProperties` open, so a typo such as
 * `readinesProbe` passes them, while the API server (strict field validation) rejects it. Each
 * object becomes a typed object literal, and TypeScript's excess-property check names the field.
 */
export function k8sUnknownFieldErrors(objects: K8sObject[]): string[] {
  const root = path.resolve(import.meta.dirname, '../..');
  const file = path.join(root, 'test', 'support', '__deploy_objects__.ts');
  const lines = objects.map(
    (o, i) => `export const o${i}: import('${modelModule(o.apiVersion)}').I${o.kind} = ${JSON.stringify(o)};`,
  );
  const text = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) =>
    name === file ? ts.createSourceFile(name, text, lang) : getSourceFile(name, lang, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file?.fileName === file)
    .map((d) => {
      const line = d.file!.getLineAndCharacterOfPosition(d.start ?? 0).line;
      const o = objects[line];
      return `${o ? objectId(o) : `line ${line}`}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
    });
}

/** The Compose Specification's JSON Schema, as shipped in the `dclint` package. */
export function composeSchema(): object {
  const dir = path.dirname(require.resolve('dclint/package.json'));
  return JSON.parse(readFileSync(path.join(dir, 'schemas', 'compose.schema.json'), 'utf8')) as object;
}

export function composeSchemaErrors(doc: unknown): string[] {
  // strict: false: the published schema uses annotations (deprecated, …) Ajv does not know.
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats.default(ajv);
  // The schema names draft-07 by its https address, which Ajv knows only as http://…#.
  const draft7 = require('ajv/dist/refs/json-schema-draft-07.json') as Record<string, unknown>;
  ajv.addMetaSchema({ ...draft7, $id: 'https://json-schema.org/draft-07/schema' });
  const validate = ajv.compile(composeSchema());
  if (validate(doc)) return [];
  return (validate.errors ?? []).map(
    (e: ErrorObject) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
  );
}

/**
 * Compose's variable interpolation (`${VAR}`, `${VAR:-default}`, `${VAR-default}`, `$$`), which it
 * applies before validating; unset variables without a default become empty, as in Compose.
 */
export function interpolate(value: unknown, env: Record<string, string | undefined>): unknown {
  if (typeof value === 'string') {
    return value.replace(
      /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g,
      (m, name?: string, op?: string, def?: string) => {
        if (m === '$$') return '$';
        const v = env[name!];
        if (op === ':-') return v === undefined || v === '' ? def! : v;
        if (op === '-') return v === undefined ? def! : v;
        return v ?? '';
      },
    );
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env));
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env)]));
  return value;
}

/** Every variable name a Compose file interpolates. */
export function interpolatedNames(text: string): Set<string> {
  return new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!));
}
