// AdamW over tf variables, written here because tfjs has none and checkpoints need the
// moments: decoupled weight decay (Loshchilov & Hutter), PyTorch's update order and defaults.
import * as tf from '@tensorflow/tfjs';

export interface AdamWState {
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

export class AdamW {
  readonly beta1 = 0.9;
  readonly beta2 = 0.999;
  readonly eps = 1e-8;
  step: number;
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];

  constructor(
    private readonly params: tf.Variable[],
    state?: AdamWState,
  ) {
    this.step = state?.step ?? 0;
    // tidy: a variable shares its initial tensor's data, which would otherwise stay referenced
    // (and in the wasm heap) after the variable is disposed.
    this.m = tf.tidy(() =>
      params.map((p, i) => tf.variable(state ? tf.tensor(state.m[i]!, p.shape) : tf.zerosLike(p), false)),
    );
    this.v = tf.tidy(() =>
      params.map((p, i) => tf.variable(state ? tf.tensor(state.v[i]!, p.shape) : tf.zerosLike(p), false)),
    );
  }

  /** One update with gradients in parameter order; `weightDecay` 0 switches decay off. */
  apply(grads: tf.Tensor[], lr: number, weightDecay: number): void {
    this.step += 1;
    const bc1 = 1 - Math.pow(this.beta1, this.step);
    const bc2 = 1 - Math.pow(this.beta2, this.step);
    tf.tidy(() => {
      this.params.forEach((p, i) => {
        const g = grads[i]!;
        const m = tf.add(tf.mul(this.m[i]!, this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(this.v[i]!, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bc2)), this.eps);
        const decayed = weightDecay > 0 ? tf.mul(p, 1 - lr * weightDecay) : p;
        this.m[i]!.assign(m);
        this.v[i]!.assign(v);
        p.assign(tf.sub(decayed, tf.mul(tf.div(m, denom), lr / bc1)));
      });
    });
  }

  exportState(): AdamWState {
    return {
      step: this.step,
      m: this.m.map((t) => t.dataSync() as Float32Array).map((a) => a.slice()),
      v: this.v.map((t) => t.dataSync() as Float32Array).map((a) => a.slice()),
    };
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
}
