/**
 * Encoded local answers, by the query's exact question bytes and whether it carried EDNS: a repeated query
 * (the usual case: a few hundred names asked over and over) is answered by copying its cached response and
 * patching the two bytes that differ between queries with the same question, the ID and the RD flag. The
 * key keeps the question's letter case, so a client that randomises it (DNS 0x20) gets its own spelling
 * back. Motivated by a CPU profile of the resolver under dnsperf (`bench/dns.ts`): after the kernel's send,
 * the next costs per packet were building the name string, the lookup and the answer record's key.
 *
 * Only NOERROR answers for names we own are cached (forwarded and error answers are not). The owner must
 * call `clear()` whenever what `lookup` returns changes; the resolver thread does so in the same turn as it
 * swaps its table, so no query can be answered from the old table afterwards.
 */
const MAX_ENTRIES = 20_000;

export class AnswerCache {
  readonly #answers = new Map<string, Buffer>();

  /** The key of a plain query whose question ends at `end`. */
  static key(query: Buffer, end: number, edns: boolean): string {
    return (edns ? 'e' : 'p') + query.toString('latin1', 12, end);
  }

  /** A fresh response for `query`, or undefined when not cached. */
  answer(key: string, query: Buffer): Buffer | undefined {
    const cached = this.#answers.get(key);
    if (cached === undefined) return undefined;
    const out = Buffer.allocUnsafe(cached.length);
    cached.copy(out);
    out[0] = query[0]!;
    out[1] = query[1]!;
    // RD (the low bit of the third byte) is echoed from the query; the other flags are the same for all.
    out[2] = (cached[2]! & 0xfe) | (query[2]! & 0x01);
    return out;
  }

  /** Keeps `response` (not modified afterwards: `answer` copies it). */
  put(key: string, response: Buffer): void {
    // Clients that randomise the case of names make keys without bound: start over rather than grow.
    if (this.#answers.size >= MAX_ENTRIES) this.#answers.clear();
    this.#answers.set(key, response);
  }

  clear(): void {
    this.#answers.clear();
  }

  get size(): number {
    return this.#answers.size;
  }
}
