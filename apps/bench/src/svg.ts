// Plain SVG charts: horizontal bars and latency over time. No chart library.

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';
const TOKENKIT = '#2563eb';
const STATIC = '#6b7280';
const PEER = '#f59e0b';
const REFERENCE = '#10b981';

const esc = (s: string) =>
  s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
const n = (x: number) => (Math.round(x * 10) / 10).toString();

export type BarKind = 'tokenkit' | 'static' | 'peer' | 'reference';
const colour = (kind: BarKind) => ({ tokenkit: TOKENKIT, static: STATIC, peer: PEER, reference: REFERENCE })[kind];

export interface Bar {
  label: string;
  value: number;
  kind: BarKind;
  /** Text at the end of the bar; default the value. */
  text?: string;
}

/** Horizontal bars; `log` for values that span orders of magnitude (e.g. 1 vs 1000). */
export function barChart({
  title,
  subtitle,
  bars,
  log = false,
}: {
  title: string;
  subtitle?: string;
  bars: Bar[];
  log?: boolean;
}): string {
  const width = 820;
  const labelWidth = 330;
  const barArea = width - labelWidth - 160;
  const rowHeight = 26;
  const top = subtitle ? 58 : 40;
  const height = top + bars.length * rowHeight + 16;
  const max = Math.max(...bars.map((b) => b.value), log ? 10 : 0);
  const scale = (v: number) => {
    if (!(v > 0)) return 0;
    if (!log) return (v / max) * barArea;
    // log10(v + 1): 0 → 0, 1 → visible, max → full width
    return Math.max(2, (Math.log10(v + 1) / Math.log10(max + 1)) * barArea);
  };
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="13">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="12" y="24" font-size="16" font-weight="600" fill="#111827">${esc(title)}</text>`,
  ];
  if (subtitle) out.push(`<text x="12" y="44" font-size="12" fill="#4b5563">${esc(subtitle)}</text>`);
  bars.forEach((bar, i) => {
    const y = top + i * rowHeight;
    const w = scale(bar.value);
    out.push(
      `<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end" fill="#111827">${esc(bar.label)}</text>`,
      `<rect x="${labelWidth}" y="${y + 3}" width="${n(w)}" height="${rowHeight - 8}" rx="2" fill="${colour(bar.kind)}"/>`,
      `<text x="${n(labelWidth + w + 6)}" y="${y + 16}" fill="#374151">${esc(bar.text ?? String(bar.value))}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}

export interface LatencyChartInput {
  title: string;
  subtitle: string;
  kind: BarKind;
  /** Request start times, ms since the run began, and latencies, ms. */
  start: ArrayLike<number>;
  latency: ArrayLike<number>;
  durationMs: number;
  /** A dashed horizontal line, e.g. the wait threshold. */
  thresholdMs?: number;
}

/**
 * Latency over time on a log axis (0.1 ms to 2 s). Requests are grouped into
 * time buckets: a vertical stroke from the fastest to the slowest request of
 * each bucket, and a line through the bucket medians. Buckets keep the file
 * small however many requests there were.
 */
export function latencyChart(input: LatencyChartInput): string {
  const width = 820;
  const height = 260;
  const left = 62;
  const right = 16;
  const top = 52;
  const bottom = 34;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const yMin = Math.log10(0.1);
  const yMax = Math.log10(2000);
  const x = (ms: number) => left + (ms / input.durationMs) * plotW;
  const y = (latency: number) =>
    top + plotH - ((Math.log10(Math.min(2000, Math.max(0.1, latency))) - yMin) / (yMax - yMin)) * plotH;
  const color = colour(input.kind);

  const bucketMs = Math.max(50, input.durationMs / 400);
  const buckets = new Map<number, number[]>();
  for (let i = 0; i < input.start.length; i++) {
    const b = Math.floor(input.start[i]! / bucketMs);
    let list = buckets.get(b);
    if (list === undefined) buckets.set(b, (list = []));
    list.push(input.latency[i]!);
  }
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="600" fill="#111827">${esc(input.title)}</text>`,
    `<text x="12" y="40" font-size="12" fill="#4b5563">${esc(input.subtitle)}</text>`,
  ];
  for (const tick of [0.1, 1, 10, 100, 1000]) {
    const ty = n(y(tick));
    out.push(
      `<line x1="${left}" x2="${width - right}" y1="${ty}" y2="${ty}" stroke="#e5e7eb"/>`,
      `<text x="${left - 6}" y="${n(y(tick) + 4)}" text-anchor="end" fill="#6b7280">${tick >= 1 ? tick : '0.1'} ms</text>`,
    );
  }
  const stepS = input.durationMs > 30_000 ? 10 : 2;
  for (let s = 0; s * 1000 <= input.durationMs; s += stepS) {
    out.push(`<text x="${n(x(s * 1000))}" y="${height - 12}" text-anchor="middle" fill="#6b7280">${s} s</text>`);
  }
  if (input.thresholdMs !== undefined) {
    const ty = n(y(input.thresholdMs));
    out.push(
      `<line x1="${left}" x2="${width - right}" y1="${ty}" y2="${ty}" stroke="#dc2626" stroke-dasharray="5 4"/>`,
      `<text x="${width - right - 4}" y="${n(y(input.thresholdMs) - 4)}" text-anchor="end" fill="#dc2626">waited on the token endpoint (≥ ${input.thresholdMs} ms)</text>`,
    );
  }
  const strokes: string[] = [];
  const medians: string[] = [];
  for (const [b, list] of [...buckets].sort((a, c) => a[0] - c[0])) {
    list.sort((a, c) => a - c);
    const bx = n(x((b + 0.5) * bucketMs));
    strokes.push(`M${bx} ${n(y(list[0]!))}V${n(y(list[list.length - 1]!))}`);
    medians.push(`${bx},${n(y(list[list.length >> 1]!))}`);
  }
  out.push(`<path d="${strokes.join('')}" stroke="${color}" stroke-opacity="0.45" stroke-width="1.6" fill="none"/>`);
  out.push(`<polyline points="${medians.join(' ')}" stroke="${color}" stroke-width="1.4" fill="none"/>`);
  out.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#d1d5db"/>`);
  out.push('</svg>');
  return out.join('\n');
}
