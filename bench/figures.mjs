// Figures for the bench's report and tables: medians of runs, and numbers as the tables print
// them. Shared by run.mjs and growth.mjs.

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

export const fmt = (n, digits = 0) =>
  n == null ? "n/a" : Number(n).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
