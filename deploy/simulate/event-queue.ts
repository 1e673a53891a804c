/**
 * The simulator's clock: a binary heap of things due at virtual instants, popped in time
 * order and, at the same instant, in the order they were pushed (so a run is deterministic).
 */
export class EventQueue<T> {
  private at: number[] = [];
  private seq: number[] = [];
  private items: T[] = [];
  private n = 0;

  get size(): number {
    return this.items.length;
  }

  push(atMs: number, item: T): void {
    const a = this.at;
    const s = this.seq;
    const it = this.items;
    let i = it.length;
    a.push(atMs);
    s.push(this.n++);
    it.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! < a[i]! || (a[p] === a[i] && s[p]! < s[i]!)) break;
      this.swap(i, p);
      i = p;
    }
  }

  /** The time of the next item, or undefined when empty. */
  peekAt(): number | undefined {
    return this.at[0];
  }

  pop(): T | undefined {
    const it = this.items;
    if (it.length === 0) return undefined;
    const top = it[0]!;
    const last = it.length - 1;
    this.swap(0, last);
    this.at.pop();
    this.seq.pop();
    it.pop();
    const a = this.at;
    const s = this.seq;
    const len = it.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < len && (a[l]! < a[m]! || (a[l] === a[m] && s[l]! < s[m]!))) m = l;
      if (r < len && (a[r]! < a[m]! || (a[r] === a[m] && s[r]! < s[m]!))) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }

  private swap(i: number, j: number): void {
    const a = this.at;
    const s = this.seq;
    const it = this.items;
    [a[i], a[j]] = [a[j]!, a[i]!];
    [s[i], s[j]] = [s[j]!, s[i]!];
    [it[i], it[j]] = [it[j]!, it[i]!];
  }
}
