/**
 * The run's chart as a self-contained SVG: one small panel per compared figure, a horizontal bar per
 * server, the value printed beside it, failures marked. No plotting dependency.
 */
import type { ServerSpec } from '../servers.js';
import { formatRatio, formatValue, type ComparedFigure } from './table.js';

const panelWidth = 330;
const columns = 3;
const barHeight = 18;
const labelWidth = 110;

const colors: Record<string, string> = {
  ours: '#1f6feb',
  'ours-fsync': '#79a8f5',
  'y-websocket': '#8b949e',
  hocuspocus: '#b08800',
  floor: '#c5ccd3',
};

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Title, subtitle, one bar per server, and a margin. */
const panelHeight = (servers: number): number => 56 + servers * (barHeight + 6);

function panel(row: ComparedFigure, specs: ServerSpec[], x: number, y: number): string {
  const parts: string[] = [];
  const better = row.figure.better === 'lower' ? 'lower is better' : 'higher is better';
  parts.push(`<text x="${x + 8}" y="${y + 18}" class="title">${escape(`${row.scenario}: ${row.figure.label}`)}</text>`);
  const ratio = Number.isFinite(row.ratio) && row.figure.ratio !== false ? ` · ours ${formatRatio(row.ratio)} best peer` : '';
  parts.push(`<text x="${x + 8}" y="${y + 33}" class="sub">${escape(better + ratio)}</text>`);
  const values = specs.map((spec) => row.values.get(spec.name)).map((v) => (v !== undefined && Number.isFinite(v.value) ? v.value : 0));
  const max = Math.max(...values, 1e-9);
  const barSpace = panelWidth - labelWidth - 80;
  specs.forEach((spec, i) => {
    const v = row.values.get(spec.name);
    const by = y + 44 + i * (barHeight + 6);
    parts.push(`<text x="${x + labelWidth}" y="${by + 13}" class="label" text-anchor="end">${escape(spec.label)}</text>`);
    if (v === undefined) return;
    const width = Number.isFinite(v.value) ? Math.max(1, (v.value / max) * barSpace) : 0;
    const fill = colors[spec.name] ?? '#999';
    parts.push(
      `<rect x="${x + labelWidth + 6}" y="${by}" width="${width.toFixed(1)}" height="${barHeight}" fill="${fill}"${v.ok ? '' : ' fill-opacity="0.35" stroke="#cf222e" stroke-dasharray="3 2"'}/>`,
    );
    const text = `${formatValue(v.value, row.figure.unit)}${v.ok ? '' : ' ✗ failed'}`;
    parts.push(`<text x="${x + labelWidth + 10 + width}" y="${by + 13}" class="${v.ok ? 'value' : 'fail'}">${escape(text)}</text>`);
  });
  return parts.join('\n');
}

/** Renders the chart; `caption` lines (command, machine, date) go under the panels. */
export function renderChart(rows: ComparedFigure[], specs: ServerSpec[], caption: string[]): string {
  const shown = rows.filter((row) => row.figure.info !== true || row.figure.key === 'disk');
  const rowsOfPanels = Math.ceil(shown.length / columns);
  const cell = panelHeight(specs.length);
  const height = 40 + rowsOfPanels * cell + caption.length * 16 + 16;
  const width = columns * panelWidth + 20;
  const body = shown.map((row, i) => panel(row, specs, 10 + (i % columns) * panelWidth, 40 + Math.floor(i / columns) * cell));
  const captionLines = caption.map((line, i) => `<text x="14" y="${40 + rowsOfPanels * cell + 14 + i * 16}" class="caption">${escape(line)}</text>`);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="-apple-system, Segoe UI, Helvetica, Arial, sans-serif">`,
    '<style>.title{font-size:13px;font-weight:600;fill:#1f2328}.sub{font-size:11px;fill:#59636e}.label{font-size:11px;fill:#1f2328}.value{font-size:11px;fill:#1f2328}.fail{font-size:11px;fill:#cf222e}.caption{font-size:11px;fill:#59636e}.head{font-size:16px;font-weight:600;fill:#1f2328}</style>',
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    '<text x="14" y="26" class="head">Yjs document servers, side by side</text>',
    ...body,
    ...captionLines,
    '</svg>',
    '',
  ].join('\n');
}
