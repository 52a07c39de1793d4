// Choosing and starting a tfjs backend. Backends are process-global in tfjs: a worker
// process runs one engine; optional native/GPU packages load only when installed.
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { PhasesweepError } from '../../spec/index.js';
import { shareIdentityOnWasm } from './host-kernels.js';

export type EngineName = 'auto' | 'wasm' | 'cpu' | 'webgpu' | 'tensorflow' | 'tensorflow-gpu';
export const ENGINE_NAMES: readonly EngineName[] = [
  'auto',
  'wasm',
  'cpu',
  'webgpu',
  'tensorflow',
  'tensorflow-gpu',
];

export interface EngineInfo {
  /** The engine asked for and running (never 'auto'). */
  engine: string;
  /** The tfjs backend name: wasm, cpu, webgpu, tensorflow. */
  backend: string;
  simd: boolean;
  versions: Record<string, string>;
}

export interface Engine {
  info: EngineInfo;
  tf: typeof tf;
}

const require = createRequire(import.meta.url);

/** `import()` of a name held in a variable: tsc neither resolves nor type-checks optional packages. */
async function importOptional(name: string): Promise<Record<string, unknown> | null> {
  try {
    require.resolve(name);
  } catch {
    return null;
  }
  return (await import(name)) as Record<string, unknown>;
}

const INSTALL_HINT: Record<string, string> = {
  tensorflow:
    'engine "tensorflow" needs @tensorflow/tfjs-node (libtensorflow for CPU): run `npm install @tensorflow/tfjs-node@4.22` in the project (its install script downloads libtensorflow, so it needs internet), or use --engine wasm',
  'tensorflow-gpu':
    'engine "tensorflow-gpu" needs @tensorflow/tfjs-node-gpu with CUDA and cuDNN on the host: run `npm install @tensorflow/tfjs-node-gpu@4.22` (needs internet), or use --engine webgpu / wasm',
  webgpu:
    'engine "webgpu" needs the npm packages `webgpu` (Dawn bindings) and @tensorflow/tfjs-backend-webgpu: run `npm install webgpu @tensorflow/tfjs-backend-webgpu@4.22`; the host needs a GPU, the Vulkan loader (Debian libvulkan1) and VK_DRIVER_FILES pointing at its driver\'s ICD JSON',
};

function unavailable(engine: string, detail?: string, cause?: unknown): PhasesweepError {
  const hint = INSTALL_HINT[engine] ?? `engine "${engine}" is not available`;
  return new PhasesweepError('ENGINE_UNAVAILABLE', detail ? `${hint} (${detail})` : hint, { cause });
}

/** A backend is accepted only once a real op runs on it and gives the right answer. */
async function smokeTest(): Promise<void> {
  const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
  const b = tf.matMul(a, a);
  const got = await b.data();
  tf.dispose([a, b]);
  if (got[0] !== 7 || got[3] !== 22) throw new Error(`test matMul gave [${Array.from(got).join(', ')}]`);
}

async function activate(backend: string): Promise<void> {
  // Production mode: no debug checks, and no console banner urging tfjs-node on every start.
  tf.enableProdMode();
  const ok = await tf.setBackend(backend);
  if (!ok) throw new Error(`tf.setBackend('${backend}') failed`);
  await tf.ready();
  await smokeTest();
}

function wasmDistDir(): string {
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
}

let wasmPathsSet = false;

async function startWasm(): Promise<void> {
  if (!wasmPathsSet) {
    // In Node the .wasm binaries are read from the package's dist folder.
    setWasmPaths(wasmDistDir() + path.sep);
    shareIdentityOnWasm();
    wasmPathsSet = true;
  }
  await activate('wasm');
}

async function startWebgpu(): Promise<void> {
  if (!tf.findBackendFactory('webgpu')) {
    const dawn = await importOptional('webgpu');
    if (!dawn) throw unavailable('webgpu', 'package "webgpu" is not installed');
    const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
    const { create, globals } = dawn as { create: (opts: string[]) => unknown; globals: object };
    Object.assign(globalThis, globals);
    // The tfjs webgpu backend looks for navigator.gpu when it loads, so set it first.
    if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true });
    g.navigator!.gpu = create([]);
    if (!(await importOptional('@tensorflow/tfjs-backend-webgpu'))) {
      throw unavailable('webgpu', 'package "@tensorflow/tfjs-backend-webgpu" is not installed');
    }
  }
  await activate('webgpu');
}

async function startTensorflow(engine: 'tensorflow' | 'tensorflow-gpu'): Promise<void> {
  const pkg = engine === 'tensorflow' ? '@tensorflow/tfjs-node' : '@tensorflow/tfjs-node-gpu';
  if (!tf.findBackendFactory('tensorflow')) {
    if (!(await importOptional(pkg))) throw unavailable(engine, `package "${pkg}" is not installed`);
  }
  await activate('tensorflow');
}

function packageVersion(name: string): string | null {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return null;
  }
}

async function describe(engine: string): Promise<EngineInfo> {
  const backend = tf.getBackend();
  const versions: Record<string, string> = { 'tfjs-core': tf.version_core, node: process.versions.node };
  const extra: Record<string, string> = {
    wasm: '@tensorflow/tfjs-backend-wasm',
    webgpu: '@tensorflow/tfjs-backend-webgpu',
    tensorflow: engine === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node',
  };
  const pkg = extra[backend];
  const v = pkg ? packageVersion(pkg) : null;
  if (pkg && v) versions[pkg] = v;
  if (backend === 'webgpu') {
    const dawn = packageVersion('webgpu');
    if (dawn) versions['webgpu'] = dawn;
  }
  let simd = false;
  if (backend === 'wasm') simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  return { engine, backend, simd, versions };
}

async function start(engine: Exclude<EngineName, 'auto'>): Promise<void> {
  switch (engine) {
    case 'wasm':
      return startWasm();
    case 'cpu':
      return activate('cpu');
    case 'webgpu':
      return startWebgpu();
    case 'tensorflow':
    case 'tensorflow-gpu':
      return startTensorflow(engine);
  }
}

/** Fastest first; `auto` takes the first that starts. */
const AUTO_ORDER: readonly Exclude<EngineName, 'auto'>[] = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm'];

/**
 * Starts an engine and makes it the process's tfjs backend. Throws
 * PhasesweepError('ENGINE_UNAVAILABLE') with how to install it when it cannot run.
 */
// `string` too: names come from configs and flags, and unknown ones get a clear error.
export async function createEngine(name: string): Promise<Engine> {
  if (!(ENGINE_NAMES as readonly string[]).includes(name)) {
    throw new PhasesweepError(
      'ENGINE_UNAVAILABLE',
      `unknown engine "${name}": use one of ${ENGINE_NAMES.join(', ')}`,
    );
  }
  const candidates = name === 'auto' ? AUTO_ORDER : [name as Exclude<EngineName, 'auto'>];
  const failures: string[] = [];
  for (const engine of candidates) {
    try {
      await start(engine);
      return { info: await describe(engine), tf };
    } catch (err) {
      if (name !== 'auto') {
        if (err instanceof PhasesweepError) throw err;
        throw unavailable(engine, `it did not start: ${(err as Error).message}`, err);
      }
      failures.push(`${engine}: ${(err as Error).message}`);
    }
  }
  throw new PhasesweepError('ENGINE_UNAVAILABLE', `no engine could start:\n  ${failures.join('\n  ')}`);
}

/** Makes `engine` the active backend again (tests switch between cpu and wasm in one process). */
export async function useEngine(engine: Engine): Promise<void> {
  if (tf.getBackend() !== engine.info.backend) await activate(engine.info.backend);
}
