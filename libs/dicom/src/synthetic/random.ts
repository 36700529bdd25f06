import { createHash } from 'node:crypto';

/**
 * A small seeded PRNG (sfc32) for the synthetic generator. Every stream is keyed by a label
 * (e.g. "patient|3"), so a patient's tags do not change when the number of series or instances
 * changes, and the output of a seed is the same on every machine and Node version.
 */
export class SeededRandom {
  // Int32Array: every store wraps to 32 bits, the arithmetic sfc32 is defined with.
  private readonly state = new Int32Array(4);

  constructor(seed: number, label: string) {
    const digest = createHash('sha256').update(`${seed}|${label}`).digest();
    for (let i = 0; i < 4; i++) this.state[i] = digest.readInt32LE(4 * i);
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.state;
    const t = (s[0] + s[1] + s[3]) | 0;
    s[3] = s[3] + 1;
    s[0] = s[1] ^ (s[1] >>> 9);
    s[1] = s[2] + (s[2] << 3);
    s[2] = ((s[2] << 21) | (s[2] >>> 11)) + t;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(values: readonly T[]): T {
    return values[Math.floor(this.next() * values.length)];
  }

  /** `length` decimal digits, leading zeros kept. */
  digits(length: number): string {
    let out = '';
    for (let i = 0; i < length; i++) out += String(this.int(0, 9));
    return out;
  }
}

/** A UID under the UUID-derived root 2.25 (no registered root needed), stable for (seed, label). */
export function syntheticUid(seed: number, label: string): string {
  const bytes = createHash('sha256').update(`uid|${seed}|${label}`).digest().subarray(0, 16);
  // RFC 9562 version 8 ("custom") UUID, as libs/dicom's UID mapping does for generated UIDs.
  bytes[6] = (bytes[6] & 0x0f) | 0x80;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  return `2.25.${BigInt(`0x${bytes.toString('hex')}`).toString(10)}`;
}
