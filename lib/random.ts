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

/**
 * cyrb128's four words after hashing some text, before its final mix: hashing goes on from them as
 * if the text went on.
 */
type HashState = [number, number, number, number];

/** A deterministic stream of random numbers. */
export class Rng {
  // sfc32's state, as int32s (the bits are all that count; int32s keep every field a small integer).
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  // The hash state of `seed/name/` (of `seed/` for the unnamed root), from which `derive` hashes its
  // child's name. A plant holds several streams a sensor: the name itself is not kept.
  readonly #p1: number;
  readonly #p2: number;
  readonly #p3: number;
  readonly #p4: number;

  /** Creates the stream named `name` of the run seeded with `seed`. */
  constructor(seed: number, name?: string);
  constructor(seed: number | HashState, name = "") {
    // From `derive`: the hash state of the derived stream's whole text, whose name is never empty.
    const derived = typeof seed !== "number";
    const text = derived ? seed : hashText(CYRB128_START, `${seed}/${name}`);
    const prefix = derived || name !== "" ? hashText(text, "/") : text;
    [this.#p1, this.#p2, this.#p3, this.#p4] = prefix;
    [this.#a, this.#b, this.#c, this.#d] = finishHash(text);
    // Discard the first outputs: sfc32 needs a few rounds to mix a fresh state.
    for (let i = 0; i < 12; i++) this.next();
  }

  /**
   * A stream independent of this one, named after this one's name and `name` (`parent/name`, or
   * `name` from the unnamed root): `new Rng(seed, "line/F1").derive("value")` is
   * `new Rng(seed, "line/F1/value")`. `name` must not be empty.
   */
  derive(name: string): Rng {
    if (name === "") throw new RangeError("a derived stream needs a name");
    const text = hashText([this.#p1, this.#p2, this.#p3, this.#p4], name);
    return new (Rng as unknown as new (state: HashState) => Rng)(text);
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

/** cyrb128's state before any text. */
const CYRB128_START: HashState = [1779033703, 3144134277 | 0, 1013904242, 2773480762 | 0];

/** cyrb128's state after `state` has gone on through `text`. */
function hashText(state: HashState, text: string): HashState {
  let [h1, h2, h3, h4] = state;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  return [h1, h2, h3, h4];
}

/** cyrb128's 128-bit hash from its state at the end of the text, as four int32s. */
function finishHash([h1, h2, h3, h4]: HashState): HashState {
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1, h2, h3, h4];
}
