// Batched products of many tiny matrices (attention's [L×L]·[L×dh] per sequence) as WebAssembly
// SIMD kernels on the wasm backend's own heap. tfjs-backend-wasm runs batched matMuls in a
// scalar loop (XNNPACK's path is batch-1 only): ~1 GFLOP/s against ~14 for its dense matMul.
// These kernels vectorise over the 16-float runs of the feature axis instead.
import * as tf from '@tensorflow/tfjs';
import { Body, writeModule } from '../wasm-writer.js';

export type ProductMode = 'nn' | 'tn' | 'nt';

const ACCUMULATORS = ['acc0', 'acc1', 'acc2', 'acc3'];

/**
 * product(a, b, out, batch, p, k, m, asi, asj, asn): out[n] = A[n]·B[n] for n < batch, with
 * A[n][i][j] the float at a + n·asn + i·asi + j·asj (byte strides, so A may be read transposed),
 * B[n] k×m and out[n] p×m row-major and contiguous over n; m a multiple of 16. Each output
 * element sums its k products in order.
 */
function stridedProduct(): Body {
  const f = new Body(['a', 'b', 'out', 'batch', 'p', 'k', 'm', 'asi', 'asj', 'asn']).locals(
    ['n', 'i', 'j', 'c', 'aMat', 'bMat', 'aP', 'bP', 'mBytes', 'kmBytes'],
    ['s', ...ACCUMULATORS],
  );
  f.get('m').i32(4).mul().set('mBytes');
  f.get('k').get('mBytes').mul().set('kmBytes');
  f.forRange('n', 'batch', 1, (f) => {
    f.get('a').get('n').get('asn').mul().add().set('aMat');
    f.get('b').get('n').get('kmBytes').mul().add().set('bMat');
    f.forRange('i', 'p', 1, (f) => {
      f.forRange('c', 'm', 16, (f) => {
        for (const acc of ACCUMULATORS) f.v128Zero().set(acc);
        f.get('aMat').get('i').get('asi').mul().add().set('aP');
        f.get('bMat').get('c').i32(4).mul().add().set('bP');
        f.forRange('j', 'k', 1, (f) => {
          f.get('aP').f32Load().f32x4Splat().set('s');
          ACCUMULATORS.forEach((acc, q) =>
            f
              .get(acc)
              .get('s')
              .get('bP')
              .v128Load(16 * q)
              .f32x4Mul()
              .f32x4Add()
              .set(acc),
          );
          f.bump('aP', (f) => f.get('asj'));
          f.bump('bP', (f) => f.get('mBytes'));
        });
        ACCUMULATORS.forEach((acc, q) =>
          f
            .get('out')
            .get(acc)
            .v128Store(16 * q),
        );
        f.bump('out', (f) => f.i32(64));
      });
    });
  });
  return f;
}

/**
 * transposed(a, b, out, batch, p, k, m): out[n] = A[n]·B[n]ᵀ for A[n] p×k and B[n] m×k, all
 * row-major and contiguous over n; k a multiple of 16. Each element is four running sums over
 * k in 16-float strides, added pairwise.
 */
function transposedProduct(): Body {
  const f = new Body(['a', 'b', 'out', 'batch', 'p', 'k', 'm']).locals(
    ['n', 'i', 'j', 'c', 'aMat', 'bMat', 'aRow', 'aP', 'bP', 'kBytes'],
    ACCUMULATORS,
  );
  f.get('k').i32(4).mul().set('kBytes');
  f.forRange('n', 'batch', 1, (f) => {
    f.get('a').get('n').get('p').mul().get('kBytes').mul().add().set('aMat');
    f.get('b').get('n').get('m').mul().get('kBytes').mul().add().set('bMat');
    f.forRange('i', 'p', 1, (f) => {
      f.get('aMat').get('i').get('kBytes').mul().add().set('aRow');
      f.forRange('j', 'm', 1, (f) => {
        f.get('aRow').set('aP');
        f.get('bMat').get('j').get('kBytes').mul().add().set('bP');
        for (const acc of ACCUMULATORS) f.v128Zero().set(acc);
        f.forRange('c', 'k', 16, (f) => {
          ACCUMULATORS.forEach((acc, q) =>
            f
              .get(acc)
              .get('aP')
              .v128Load(16 * q)
              .get('bP')
              .v128Load(16 * q)
              .f32x4Mul()
              .f32x4Add()
              .set(acc),
          );
          f.bump('aP', (f) => f.i32(64));
          f.bump('bP', (f) => f.i32(64));
        });
        f.get('acc0').get('acc1').f32x4Add().get('acc2').get('acc3').f32x4Add().f32x4Add().set('acc0');
        f.get('out');
        f.get('acc0').f32x4Lane(0).get('acc0').f32x4Lane(1).f32Add();
        f.get('acc0').f32x4Lane(2).get('acc0').f32x4Lane(3).f32Add().f32Add();
        f.f32Store();
        f.bump('out', (f) => f.i32(4));
      });
    });
  });
  return f;
}

interface Kernels {
  product: (...args: number[]) => void;
  transposed: (...args: number[]) => void;
}

/** What the kernel uses of tfjs-backend-wasm's BackendWasm. */
interface WasmBackend {
  wasm: { asm?: { memory?: unknown } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

/** The part of the WebAssembly JS API used here (the project's TypeScript libs leave it out). */
interface WasmApi {
  Memory: abstract new (...args: never[]) => object;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const WasmJs = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const KERNEL = 'PhasesweepBatchedProduct';
const MODULE = writeModule({ product: stridedProduct(), transposed: transposedProduct() });

/** The kernels, instantiated against the heap of the wasm backend they last ran on. */
let loaded: { memory: object; kernels: Kernels } | null = null;

function kernelsFor(backend: WasmBackend): Kernels | null {
  const memory = backend.wasm.asm?.memory;
  if (!(memory instanceof WasmJs.Memory)) return null;
  if (loaded?.memory !== memory) {
    try {
      const instance = new WasmJs.Instance(new WasmJs.Module(MODULE), { env: { memory } });
      loaded = { memory, kernels: instance.exports as unknown as Kernels };
    } catch {
      // A runtime without WebAssembly SIMD: tfjs's own ops serve.
      return null;
    }
  }
  return loaded.kernels;
}

function runProduct({ inputs, attrs, backend }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const wasm = backend as unknown as WasmBackend;
  const a = inputs['a'] as tf.TensorInfo;
  const b = inputs['b'] as tf.TensorInfo;
  const mode = attrs!['mode'] as ProductMode;
  const [n, a1, a2] = a.shape as [number, number, number];
  const [, b1, b2] = b.shape as [number, number, number];
  const [p, k, m] = mode === 'nn' ? [a1, a2, b2] : mode === 'tn' ? [a2, a1, b2] : [a1, a2, b1];
  const out = wasm.makeOutput([n, p, m], 'float32');
  // Offsets after makeOutput, which may have grown the heap.
  const [ao, bo, oo] = [a, b, out].map((t) => wasm.typedArrayFromHeap(t).byteOffset) as [
    number,
    number,
    number,
  ];
  const kernels = kernelsFor(wasm)!;
  if (mode === 'nt') kernels.transposed(ao, bo, oo, n, p, k, m);
  else if (mode === 'nn') kernels.product(ao, bo, oo, n, p, k, m, 4 * k, 4, 4 * p * k);
  else kernels.product(ao, bo, oo, n, p, k, m, 4, 4 * p, 4 * p * k);
  return out;
}

/**
 * The batched product of `mode` on the wasm backend: nn a·b for a [n,p,k], b [n,k,m]; tn aᵀ·b
 * for a [n,k,p], b [n,k,m]; nt a·bᵀ for a [n,p,k], b [n,m,k]. null when it does not apply
 * (another backend, or a vectorised axis — m for nn and tn, k for nt — not a multiple of 16):
 * the caller falls back to tfjs's own ops. No gradient of its own.
 */
export function batchedProduct(a: tf.Tensor3D, b: tf.Tensor3D, mode: ProductMode): tf.Tensor3D | null {
  if (tf.getBackend() !== 'wasm') return null;
  const vectorised = mode === 'nt' ? a.shape[2] : b.shape[2];
  if (vectorised % 16 !== 0 || kernelsFor(tf.backend() as unknown as WasmBackend) === null) return null;
  if (!tf.getKernel(KERNEL, 'wasm'))
    tf.registerKernel({ kernelName: KERNEL, backendName: 'wasm', kernelFunc: runProduct });
  const attrs: Record<string, unknown> = { mode };
  return tf.engine().runKernel<tf.Tensor3D>(KERNEL, { a, b }, attrs as tf.NamedAttrMap);
}
