/** Returns an amount with its noun, singular for one: `1 edge`, `3 edges`. */
export function count(amount: number, noun: string, plural = `${noun}s`): string {
  return `${amount} ${amount === 1 ? noun : plural}`;
}
