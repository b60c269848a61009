// A table printed to the terminal and written into docs/benchmarks.md alike.

/** A table of figures: what apps/bench prints and what a package's bench prints with `--markdown`. */
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

/** The same table as GitHub Markdown, under a heading of `level`. */
export function renderMarkdown(table: Table, level = '###'): string {
  return `${level} ${table.title}\n\n${renderMarkdownBody(table)}`;
}

/**
 * The table as GitHub Markdown without its heading: what a package's bench prints with `--markdown`
 * for a section of docs/benchmarks.md, whose heading apps/bench writes.
 */
export function renderMarkdownBody(table: Table): string {
  const escape = (s: string) => s.replaceAll('|', '\\|');
  const out: string[] = [];
  if (table.note) out.push(table.note, '');
  out.push(`| ${table.columns.map(escape).join(' | ')} |`);
  const numeric = numericColumns(table);
  out.push(`| ${table.columns.map((_, i) => (numeric[i] ? '---:' : '---')).join(' | ')} |`);
  for (const row of table.rows) out.push(`| ${row.map(escape).join(' | ')} |`);
  if (table.footnotes?.length) out.push('', ...table.footnotes.map((f) => `${f}  `));
  return out.join('\n');
}
