// A writer for small WebAssembly modules: i32 parameters, i32/v128 locals, structured loops and
// the handful of scalar and SIMD instructions the training and probe kernels need. Pure: it
// returns bytes; compiling them is the caller's business.

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer. */
function sleb(n: number): number[] {
  const out: number[] = [];
  let v = n | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** A name: its UTF-8 byte length, then the bytes. */
const name = (s: string): number[] => {
  const bytes = [...Buffer.from(s, 'utf8')];
  return [...uleb(bytes.length), ...bytes];
};
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

const I32 = 0x7f;
const V128 = 0x7b;
const SIMD = 0xfd;
/** memarg: alignment exponent and byte offset. */
const memarg = (align: number, offset: number): number[] => [...uleb(align), ...uleb(offset)];

/** One function's instructions, with its parameters and locals named. */
export class Body {
  readonly code: number[] = [];
  private readonly index = new Map<string, number>();
  private readonly v128Locals: string[] = [];
  private readonly i32Locals: string[] = [];

  constructor(readonly params: string[]) {
    params.forEach((p, i) => this.index.set(p, i));
  }

  /** Declares locals (i32 unless named in `v128`). */
  locals(i32: string[], v128: string[] = []): this {
    for (const name of i32) this.i32Locals.push(name);
    for (const name of v128) this.v128Locals.push(name);
    [...this.i32Locals, ...this.v128Locals].forEach((name, i) =>
      this.index.set(name, this.params.length + i),
    );
    return this;
  }

  private at(name: string): number[] {
    const i = this.index.get(name);
    if (i === undefined) throw new Error(`wasm-writer: unknown local ${name}`);
    return uleb(i);
  }

  get(name: string): this {
    this.code.push(0x20, ...this.at(name));
    return this;
  }

  set(name: string): this {
    this.code.push(0x21, ...this.at(name));
    return this;
  }

  i32(n: number): this {
    this.code.push(0x41, ...sleb(n));
    return this;
  }

  add(): this {
    this.code.push(0x6a);
    return this;
  }

  mul(): this {
    this.code.push(0x6c);
    return this;
  }

  /** name ← name + (value pushed by `push`). */
  bump(name: string, push: (b: this) => void): this {
    this.get(name);
    push(this);
    return this.add().set(name);
  }

  /** for (counter = start; counter < limit; counter += step) body; start 0 unless pushed. */
  forRange(
    counter: string,
    limit: string,
    step: number,
    body: (b: this) => void,
    start: (b: this) => void = (b) => b.i32(0),
  ): this {
    start(this);
    this.set(counter);
    this.code.push(0x02, 0x40, 0x03, 0x40); // block, loop
    this.get(counter).get(limit).code.push(0x4f, 0x0d, 1); // i32.ge_u, br_if 1 (leave the block)
    body(this);
    this.bump(counter, (b) => b.i32(step));
    this.code.push(0x0c, 0, 0x0b, 0x0b); // br 0 (loop again), end loop, end block
    return this;
  }

  f32Load(offset = 0): this {
    this.code.push(0x2a, ...memarg(2, offset));
    return this;
  }

  f32Store(offset = 0): this {
    this.code.push(0x38, ...memarg(2, offset));
    return this;
  }

  f32Add(): this {
    this.code.push(0x92);
    return this;
  }

  v128Load(offset = 0): this {
    this.code.push(SIMD, ...uleb(0x00), ...memarg(4, offset));
    return this;
  }

  v128Store(offset = 0): this {
    this.code.push(SIMD, ...uleb(0x0b), ...memarg(4, offset));
    return this;
  }

  v128Zero(): this {
    this.code.push(SIMD, ...uleb(0x0c), ...new Array<number>(16).fill(0));
    return this;
  }

  f32x4Splat(): this {
    this.code.push(SIMD, ...uleb(0x13));
    return this;
  }

  f32x4Lane(lane: number): this {
    this.code.push(SIMD, ...uleb(0x1f), lane);
    return this;
  }

  f32x4Add(): this {
    this.code.push(SIMD, ...uleb(0xe4));
    return this;
  }

  f32x4Mul(): this {
    this.code.push(SIMD, ...uleb(0xe6));
    return this;
  }

  f64Store(offset = 0): this {
    this.code.push(0x39, ...memarg(3, offset));
    return this;
  }

  f64Add(): this {
    this.code.push(0xa0);
    return this;
  }

  f64x2Lane(lane: number): this {
    this.code.push(SIMD, ...uleb(0x21), lane);
    return this;
  }

  f64x2Add(): this {
    this.code.push(SIMD, ...uleb(0xf0));
    return this;
  }

  f64x2Mul(): this {
    this.code.push(SIMD, ...uleb(0xf2));
    return this;
  }

  /** The function's code entry: local declarations, instructions, end. */
  encode(): number[] {
    const decls: number[][] = [];
    if (this.i32Locals.length) decls.push([...uleb(this.i32Locals.length), I32]);
    if (this.v128Locals.length) decls.push([...uleb(this.v128Locals.length), V128]);
    const body = [...vec(decls), ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

/**
 * A module that imports its memory as env.memory and exports `bodies` under their names; every
 * function takes its parameters as i32 and returns nothing.
 */
export function writeModule(bodies: Record<string, Body>): Uint8Array {
  const entries = Object.entries(bodies);
  const types = entries.map(([, b]) => [0x60, ...vec(b.params.map(() => [I32])), 0]);
  // (import "env" "memory" (memory 1)): a memory of at least one page, any maximum.
  const memoryImport = [...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(1)];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec(types)),
    ...section(2, vec([memoryImport])),
    ...section(3, vec(entries.map((_, i) => uleb(i)))),
    ...section(7, vec(entries.map(([fn], i) => [...name(fn), 0x00, ...uleb(i)]))),
    ...section(10, vec(entries.map(([, b]) => b.encode()))),
  ]);
}
