// Kernels for the backends whose tensors live in JS-reachable memory (wasm's heap, cpu's typed
// arrays), where their own kernels do needless work.
import * as tf from '@tensorflow/tfjs';

/** What these kernels use of tfjs-backend-wasm's BackendWasm. */
interface WasmBackend {
  incRef(dataId: object): void;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

/** What these kernels use of tfjs-core's MathBackendCPU. */
interface CpuBackend {
  data: { get(dataId: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

/**
 * Identity on wasm copies its input, and tfjs runs Identity on every tensor a custom gradient
 * saves for its backward pass (~4 ms an epoch of copies for the small model). Tensors are
 * immutable and wasm tracks references per data id (its Reshape already shares data), so the
 * replacement shares the input's data as the cpu backend's Identity does.
 */
export function shareIdentityOnWasm(): void {
  tf.unregisterKernel(tf.Identity, 'wasm');
  tf.registerKernel({
    kernelName: tf.Identity,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const x = inputs['x'] as tf.TensorInfo;
      (backend as unknown as WasmBackend).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });
}

const GATHER_ROWS = 'PhasesweepGatherRows';

/** out[i, :] = table[tokens[i], :], row by row, for d-wide rows. */
function copyRows(table: Float32Array, tokens: Int32Array, d: number, out: Float32Array): void {
  if (d === 1) {
    // Score tables are gathered one scalar at a time.
    for (let i = 0; i < tokens.length; i++) out[i] = table[tokens[i]!]!;
    return;
  }
  for (let i = 0, o = 0; i < tokens.length; i++) {
    const s = tokens[i]! * d;
    for (let k = 0; k < d; k++) out[o++] = table[s + k]!;
  }
}

function registerGatherRows(backendName: string): void {
  if (tf.getKernel(GATHER_ROWS, backendName)) return;
  tf.registerKernel({
    kernelName: GATHER_ROWS,
    backendName,
    kernelFunc: ({ inputs, attrs, backend }) => {
      const x = inputs['x'] as tf.TensorInfo;
      const tokens = attrs!['tokens'] as unknown as Int32Array;
      const d = x.shape[1]!;
      const shape = [tokens.length, d];
      if (backendName === 'wasm') {
        // Straight between views of the wasm heap: no copy out of it and back in.
        const wasm = backend as unknown as WasmBackend;
        const out = wasm.makeOutput(shape, 'float32');
        copyRows(wasm.typedArrayFromHeap(x), tokens, d, wasm.typedArrayFromHeap(out));
        return out;
      }
      const cpu = backend as unknown as CpuBackend;
      const values = new Float32Array(tokens.length * d);
      copyRows(cpu.data.get(x.dataId).values, tokens, d, values);
      return cpu.makeTensorInfo(shape, 'float32', values);
    },
  });
}

/**
 * Rows of `w` [n, d] picked by `tokens`, on wasm or cpu: a JS row copy, ~15× faster than
 * their Gather kernels. No gradient of its own (see `embedding`).
 */
export function gatherRowsOnHost(w: tf.Tensor2D, tokens: Int32Array): tf.Tensor2D {
  registerGatherRows(tf.getBackend());
  const attrs: Record<string, unknown> = { tokens };
  return tf.engine().runKernel<tf.Tensor2D>(GATHER_ROWS, { x: w }, attrs as tf.NamedAttrMap);
}
