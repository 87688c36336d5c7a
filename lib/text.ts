/** Small text helpers for what the program prints. */

/** `n` and the noun, singular or plural: "1 line", "3 factories". */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}
