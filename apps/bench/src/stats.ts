// Small numeric and formatting helpers shared by every measurement.

export const median = (values: readonly number[]): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** The q-quantile (0..1) of already sorted values, nearest rank. */
export const quantileSorted = (sorted: readonly number[], q: number): number => {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
};

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** 12345678 → '12.35 M', 12345 → '12.3 k'. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return 'n/a';
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k`;
  return perSecond.toFixed(0);
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

export function formatBytes(bytes: number): string {
  const sign = bytes < 0 ? '-' : '';
  const abs = Math.abs(bytes);
  if (abs >= 1024 * 1024) return `${sign}${(abs / 1024 / 1024).toFixed(1)} MiB`;
  if (abs >= 10 * 1024) return `${sign}${(abs / 1024).toFixed(0)} KiB`;
  if (abs >= 1024) return `${sign}${(abs / 1024).toFixed(1)} KiB`;
  return `${sign}${abs.toFixed(0)} B`;
}

export const percent = (ratio: number): string => (Number.isFinite(ratio) ? `${(ratio * 100).toFixed(0)} %` : 'n/a');

/** ✓ or ✗ for a target, '' when the row has no target. */
export const mark = (met: boolean | undefined): string => (met === undefined ? '' : met ? '✓' : '✗');

export interface Table {
  title: string;
  /** One sentence under the title: what was measured and how. */
  note?: string;
  columns: string[];
  rows: string[][];
  /** Lines printed under the table. */
  footnotes?: string[];
}

/** Columns whose cells are all figures are right-aligned; the rest left. */
function numericColumns(table: Table): boolean[] {
  return table.columns.map(
    (_, i) => i > 0 && table.rows.every((r) => (r[i] ?? '') === '' || /^([-+]?[\d.]|n\/a$)/.test(r[i]!)),
  );
}

/** A table as aligned plain text for the terminal. */
export function renderText(table: Table): string {
  const widths = table.columns.map((c, i) => Math.max(c.length, ...table.rows.map((r) => (r[i] ?? '').length)));
  const numeric = numericColumns(table);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [`\n${table.title}`];
  if (table.note) out.push(table.note);
  out.push(line(table.columns), widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of table.rows) out.push(line(row));
  for (const f of table.footnotes ?? []) out.push(f);
  return out.join('\n');
}

/** The same table as GitHub Markdown. */
export function renderMarkdown(table: Table, level = '###'): string {
  const escape = (s: string) => s.replaceAll('|', '\\|');
  const out = [`${level} ${table.title}`, ''];
  if (table.note) out.push(table.note, '');
  out.push(`| ${table.columns.map(escape).join(' | ')} |`);
  const numeric = numericColumns(table);
  out.push(`| ${table.columns.map((_, i) => (numeric[i] ? '---:' : '---')).join(' | ')} |`);
  for (const row of table.rows) out.push(`| ${row.map(escape).join(' | ')} |`);
  if (table.footnotes?.length) out.push('', ...table.footnotes.map((f) => `${f}  `));
  return out.join('\n');
}
