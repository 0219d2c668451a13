/** Figures the benchmarks print. */

/** The `p`th percentile (nearest rank, 0-100) of `xs`; NaN for no samples. */
export const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

export const ms = (n: number): string => `${n.toFixed(1)} ms`;
