/**
 * Seeded random streams.
 *
 * One seed derives an independent stream per name (a factory, a sensor, a line), so a seeded run
 * gives the same plant, values and intervals whatever the speed or the order in which tasks run:
 * no stream is shared between two things that could interleave differently.
 *
 * The generator is sfc32 (small, fast, passes PractRand to 2^40 bytes), seeded by the 128-bit
 * cyrb128 hash of `seed/name`.
 */

/** Largest seed accepted: seeds are unsigned 32-bit integers. */
export const MAX_SEED = 0xffff_ffff;

/** A deterministic stream of random numbers. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  readonly #seed: number;
  readonly #name: string;

  /** Creates the stream named `name` of the run seeded with `seed`. */
  constructor(seed: number, name = "") {
    this.#seed = seed;
    this.#name = name;
    [this.#a, this.#b, this.#c, this.#d] = cyrb128(`${seed}/${name}`);
    // Discard the first outputs: sfc32 needs a few rounds to mix a fresh state.
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A stream independent of this one, named after this one's name and `name`. */
  derive(name: string): Rng {
    return new Rng(this.#seed, this.#name === "" ? name : `${this.#name}/${name}`);
  }

  /** A float uniformly distributed in [0, 1). */
  next(): number {
    let a = this.#a, b = this.#b, c = this.#c;
    const d = this.#d;
    const t = (((a + b) | 0) + d) | 0;
    this.#d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    this.#a = a;
    this.#b = b;
    this.#c = c;
    return (t >>> 0) / 4294967296;
  }

  /** An integer uniformly distributed in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
}

/** A fresh seed for a run that was not given one. */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

function cyrb128(text: string): [number, number, number, number] {
  let h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}
