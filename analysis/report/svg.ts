// Minimal SVG plotting primitives for the self-contained HTML report: scales, axes with ticks,
// paths and a legend. Output is plain markup strings; nothing external is referenced.

export const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#9467bd',
  '#ff7f0e',
  '#17becf',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
];

export function color(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export const FRAME: Frame = { width: 560, height: 300, left: 56, right: 140, top: 24, bottom: 40 };

export interface Scale {
  (v: number): number;
  domain: [number, number];
  log: boolean;
}

export function scale(domain: [number, number], range: [number, number], log = false): Scale {
  let [d0, d1] = log ? [Math.log10(domain[0]), Math.log10(domain[1])] : domain;
  if (!(d1 > d0)) [d0, d1] = [d0 - 0.5, d1 + 0.5];
  const f = ((v: number) => {
    const x = log ? Math.log10(v) : v;
    return range[0] + ((x - d0) / (d1 - d0)) * (range[1] - range[0]);
  }) as Scale;
  f.domain = domain;
  f.log = log;
  return f;
}

/** About `count` round tick values over the domain (decades on a log scale). */
export function ticks(s: Scale, count = 5): number[] {
  const [a, b] = s.domain;
  if (s.log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(a)); e <= Math.ceil(Math.log10(b)); e++) {
      const v = 10 ** e;
      if (v >= a * 0.999 && v <= b * 1.001) out.push(v);
    }
    return out.length >= 2 ? out : [a, b];
  }
  if (!(b > a)) return [a];
  const raw = (b - a) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((st) => (b - a) / st <= count) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(a / step) * step; v <= b + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

function tickLabel(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-2 ? v.toExponential(0) : String(Number(v.toPrecision(4)));
}

/** Frame, ticks and labels; a null scale draws no ticks on that side (categorical or row axes). */
export function axes(f: Frame, x: Scale | null, y: Scale | null, xLabel: string, yLabel: string): string {
  const x0 = f.left;
  const x1 = f.width - f.right;
  const y0 = f.height - f.bottom;
  const y1 = f.top;
  const parts = [
    `<rect x="${x0}" y="${y1}" width="${x1 - x0}" height="${y0 - y1}" fill="#fff" stroke="#bbb"/>`,
  ];
  const xTicks = x ? ticks(x).map((t) => [t, x(t)] as const) : [];
  for (const [t, xt] of xTicks) {
    const px = xt.toFixed(1);
    parts.push(
      `<line x1="${px}" x2="${px}" y1="${y0}" y2="${y0 + 4}" stroke="#666"/>`,
      `<text x="${px}" y="${y0 + 16}" text-anchor="middle" class="tick">${tickLabel(t)}</text>`,
    );
  }
  const yTicks = y ? ticks(y).map((t) => [t, y(t)] as const) : [];
  for (const [t, yt] of yTicks) {
    const py = yt.toFixed(1);
    parts.push(
      `<line x1="${x0 - 4}" x2="${x1}" y1="${py}" y2="${py}" stroke="#eee"/>`,
      `<text x="${x0 - 7}" y="${py}" text-anchor="end" dominant-baseline="middle" class="tick">${tickLabel(t)}</text>`,
    );
  }
  parts.push(
    `<text x="${(x0 + x1) / 2}" y="${f.height - 6}" text-anchor="middle" class="label">${esc(xLabel)}</text>`,
    `<text transform="translate(14 ${(y0 + y1) / 2}) rotate(-90)" text-anchor="middle" class="label">${esc(yLabel)}</text>`,
  );
  return parts.join('');
}

export function legend(f: Frame, title: string, items: { label: string; color: string }[]): string {
  const x = f.width - f.right + 12;
  const rows = items.map(
    (it, i) =>
      `<rect x="${x}" y="${f.top + 18 + i * 16}" width="12" height="10" fill="${it.color}"/>` +
      `<text x="${x + 17}" y="${f.top + 27 + i * 16}" class="tick">${esc(it.label)}</text>`,
  );
  return `<text x="${x}" y="${f.top + 8}" class="label">${esc(title)}</text>${rows.join('')}`;
}

/** A polyline path through the points, broken where a value is missing. */
export function linePath(points: [number, number][]): string {
  let d = '';
  let pen = false;
  for (const [px, py] of points) {
    if (!Number.isFinite(py) || !Number.isFinite(px)) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${px.toFixed(1)} ${py.toFixed(1)}`;
    pen = true;
  }
  return d;
}

export function svg(f: Frame, kind: string, title: string, body: string): string {
  return (
    `<figure><figcaption>${esc(title)}</figcaption>` +
    `<svg class="plot" data-plot="${kind}" xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${f.height}" viewBox="0 0 ${f.width} ${f.height}" role="img" aria-label="${esc(title)}">${body}</svg></figure>`
  );
}
