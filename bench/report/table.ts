/**
 * The run's table: per scenario and figure, each server's value, our ratio to the best peer and
 * whether the issue's target is met. A server that failed a scenario (dropped, duplicated or lost
 * an edit, or crashed) is marked and never counts as the best peer.
 */
import type { Figure, ScenarioOutcome } from '../scenarios/scenario.js';
import type { ServerSpec } from '../servers.js';

export interface ComparedFigure {
  scenario: string;
  figure: Figure;
  values: Map<string, { value: number; ok: boolean }>;
  /** ours / best peer, or NaN when there is nothing to compare. */
  ratio: number;
  verdict: 'met' | 'missed' | 'FAIL' | '';
}

/** A ratio with two significant digits at least (0.0067x, not 0.00x). */
export function formatRatio(ratio: number): string {
  return `${ratio >= 0.1 ? ratio.toFixed(2) : ratio.toPrecision(2)}x`;
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '—';
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  const abs = Math.abs(value);
  if (abs >= 100) return Math.round(value).toLocaleString('en-US');
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** A value with its unit; a value in `x` (a ratio) as `formatRatio` writes it. */
export function formatValue(value: number, unit: string): string {
  if (unit === 'x' && Number.isFinite(value)) return formatRatio(value);
  return `${formatNumber(value)}${unit === '' ? '' : ` ${unit}`}`;
}

/** Pairs every figure of every scenario across servers and computes our ratio to the best peer. */
export function compare(outcomes: ScenarioOutcome[], specs: ServerSpec[]): ComparedFigure[] {
  const ours = specs.find((spec) => spec.name === 'ours');
  const rows: ComparedFigure[] = [];
  const scenarios = [...new Set(outcomes.map((o) => o.scenario))];
  for (const scenario of scenarios) {
    const byServer = new Map(outcomes.filter((o) => o.scenario === scenario).map((o) => [o.server, o]));
    const figures = [...byServer.values()].find((o) => o.figures.length > 0)?.figures ?? [];
    for (const figure of figures) {
      const values = new Map<string, { value: number; ok: boolean }>();
      for (const [server, o] of byServer) {
        const found = o.figures.find((f) => f.key === figure.key);
        values.set(server, { value: found?.value ?? Number.NaN, ok: o.ok });
      }
      // Only peers that ran the scenario without failing: when every peer failed, there is no ratio.
      const pool = specs
        .filter((spec) => spec.role === 'peer')
        .map((spec) => values.get(spec.name))
        .filter((v) => v?.ok && Number.isFinite(v.value))
        .map((v) => v!.value);
      const best = pool.length === 0 ? Number.NaN : figure.better === 'lower' ? Math.min(...pool) : Math.max(...pool);
      const mine = ours === undefined ? undefined : values.get(ours.name);
      const ratio = mine === undefined ? Number.NaN : mine.value / best;
      let verdict: ComparedFigure['verdict'] = '';
      if (mine !== undefined && !mine.ok) verdict = 'FAIL';
      else if (mine !== undefined && figure.target !== undefined && !figure.info) {
        if ('equals' in figure.target) verdict = mine.value === figure.target.equals ? 'met' : 'missed';
        else if ('bound' in figure.target) {
          const bound = figure.target.bound;
          verdict = (figure.better === 'lower' ? mine.value <= bound : mine.value >= bound) ? 'met' : 'missed';
        } else if (Number.isFinite(ratio)) {
          const met = figure.better === 'lower' ? ratio <= figure.target.ratio : ratio >= figure.target.ratio;
          verdict = met ? 'met' : 'missed';
        }
      }
      rows.push({ scenario, figure, values, ratio, verdict });
    }
  }
  return rows;
}

function targetText(figure: Figure): string {
  if (figure.info === true || figure.target === undefined) return '';
  if ('equals' in figure.target) return `= ${figure.target.equals}`;
  if ('bound' in figure.target) {
    const unit = figure.unit === 'x' ? 'x' : figure.unit === '' ? '' : ` ${figure.unit}`;
    return `ours ${figure.better === 'lower' ? '<=' : '>='} ${figure.target.bound}${unit}`;
  }
  return `${figure.better === 'lower' ? '<=' : '>='} ${figure.target.ratio}x`;
}

/** The table as Markdown (readable in a terminal, pasteable in the README). */
export function renderTable(rows: ComparedFigure[], specs: ServerSpec[], outcomes: ScenarioOutcome[]): string {
  const header = ['scenario', 'figure', ...specs.map((spec) => spec.label), 'ours / best peer', 'target', ''];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  let lastScenario = '';
  for (const row of rows) {
    const cells = specs.map((spec) => {
      const v = row.values.get(spec.name);
      if (v === undefined) return '';
      const text = formatValue(v.value, row.figure.unit);
      return v.ok ? text : `${text} ✗`;
    });
    const ratio = Number.isFinite(row.ratio) && row.figure.ratio !== false ? formatRatio(row.ratio) : '';
    lines.push(
      `| ${row.scenario === lastScenario ? '' : row.scenario} | ${row.figure.label} | ${cells.join(' | ')} | ${ratio} | ${targetText(row.figure)} | ${row.verdict} |`,
    );
    lastScenario = row.scenario;
  }
  const failures = outcomes.filter((o) => !o.ok).map((o) => `- ✗ ${o.scenario} / ${o.label}: ${o.failures.join('; ')}`);
  if (failures.length > 0) lines.push('', 'Failures (a failing server never counts as the best peer):', ...failures);
  return lines.join('\n');
}
