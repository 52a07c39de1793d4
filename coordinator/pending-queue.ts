// Pending trials of one sweep in plan order (a binary min-heap on the plan index), so picking
// the next trial stays O(log n) with tens of thousands of trials.
export class PendingQueue<T extends { readonly index: number }> {
  private readonly heap: T[] = [];
  private readonly members = new Set<T>();

  get size(): number {
    return this.members.size;
  }

  has(item: T): boolean {
    return this.members.has(item);
  }

  push(item: T): void {
    if (this.members.has(item)) return;
    this.members.add(item);
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.index <= h[i]!.index) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  /** The earliest member, skipping entries removed lazily. */
  peek(): T | undefined {
    while (this.heap.length > 0 && !this.members.has(this.heap[0]!)) this.pop();
    return this.heap[0];
  }

  /** Removes an item; its heap slot is dropped lazily by `peek`. */
  delete(item: T): void {
    this.members.delete(item);
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l]!.index < h[m]!.index) m = l;
      if (r < h.length && h[r]!.index < h[m]!.index) m = r;
      if (m === i) break;
      [h[m], h[i]] = [h[i]!, h[m]!];
      i = m;
    }
  }
}
