/**
 * The benchmark table's verdicts: our ratio is to the best peer that did not fail, never to the
 * floor, and a target is met or missed by that ratio (or by its exact value). This is the line a
 * reader of the README takes away, so a wrong pick of the best peer would misstate every result.
 */
import { describe, expect, it } from 'vitest';

import { compare, renderTable } from '../../bench/report/table.js';
import type { Figure, ScenarioOutcome } from '../../bench/scenarios/scenario.js';
const { combineRounds } = await built<typeof import('../../bench/scenarios/scenario.js')>('scenarios/scenario.js');
import { built } from './built.js';

// The specs of the real servers, from the built harness (`npm test` builds it first): their roles
// are what the table goes by.
const { serverSpecs } = await built<typeof import('../../bench/servers.js')>('servers.js');
const specs = Object.values(serverSpecs);

function ran(server: string, figure: Figure, failures: string[] = []): ScenarioOutcome {
  return { scenario: 'many-rooms', server, label: server, ok: failures.length === 0, failures, figures: [figure], notes: [], raw: null };
}

const cpu = (value: number): Figure => ({ key: 'cpu', label: 'CPU per update', value, unit: 'µs', better: 'lower', target: { ratio: 0.5 } });
const ceiling = (value: number): Figure => ({ key: 'ceiling', label: 'sustained updates/s', value, unit: '/s', better: 'higher', target: { ratio: 2 } });
const saving = (value: number): Figure => ({
  key: 'syncSaving',
  label: 'first sync, saved by deflate',
  value,
  unit: 'x',
  better: 'higher',
  target: { bound: 3 },
  ratio: false,
});
const lost = (value: number): Figure => ({ key: 'lost', label: 'edits lost', value, unit: '', better: 'lower', target: { equals: 0 }, ratio: false });

function row(outcomes: ScenarioOutcome[]) {
  const rows = compare(outcomes, specs);
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

describe('the benchmark table', () => {
  it('compares ours with the best peer that did not fail, never with the floor', () => {
    const result = row([
      ran('ours', cpu(40)),
      ran('y-websocket', cpu(100)),
      ran('hocuspocus', cpu(60), ['3 of 800 deliveries dropped']),
      ran('floor', cpu(20)),
    ]);
    expect(result.ratio).toBeCloseTo(0.4);
    expect(result.verdict).toBe('met');
  });

  it('misses a target that the ratio to the best peer misses', () => {
    const result = row([ran('ours', cpu(60)), ran('y-websocket', cpu(100)), ran('hocuspocus', cpu(110))]);
    expect(result.ratio).toBeCloseTo(0.6);
    expect(result.verdict).toBe('missed');
  });

  it('takes the highest peer where higher is better', () => {
    const peers = [ran('y-websocket', ceiling(10_000)), ran('hocuspocus', ceiling(8_000))];
    expect(row([ran('ours', ceiling(20_000)), ...peers])).toMatchObject({ ratio: 2, verdict: 'met' });
    expect(row([ran('ours', ceiling(19_000)), ...peers])).toMatchObject({ ratio: 1.9, verdict: 'missed' });
  });

  it('fails ours, whatever its figure, when ours failed the scenario', () => {
    const result = row([ran('ours', cpu(10), ['1 deliveries duplicated']), ran('y-websocket', cpu(100))]);
    expect(result.verdict).toBe('FAIL');
  });

  it('gives no ratio and no verdict when every peer failed', () => {
    const result = row([
      ran('ours', cpu(40)),
      ran('y-websocket', cpu(30), ['2 of 800 deliveries dropped']),
      ran('hocuspocus', cpu(60), ['1 deliveries to the wrong room']),
    ]);
    expect(result.ratio).toBeNaN();
    expect(result.verdict).toBe('');
  });

  it('judges a bound by our own value, whatever the peers', () => {
    const peers = [ran('y-websocket', saving(1)), ran('hocuspocus', saving(4))];
    expect(row([ran('ours', saving(2.58)), ...peers]).verdict).toBe('missed');
    expect(row([ran('ours', saving(3)), ...peers]).verdict).toBe('met');
    expect(row([ran('ours', saving(Number.NaN)), ...peers]).verdict).toBe('missed');
    const outcomes = [ran('ours', saving(3.2)), ...peers];
    expect(renderTable(compare(outcomes, specs), specs, outcomes)).toContain(
      '| first sync, saved by deflate | 3.20x |  | 1.00x | 4.00x |  |  |  | ours >= 3x | met |',
    );
  });

  it('judges an exact target by our own value', () => {
    const peers = [ran('y-websocket', lost(0)), ran('hocuspocus', lost(7_000), ['7000 of 7000 observed edits lost after kill -9'])];
    expect(row([ran('ours', lost(0)), ...peers]).verdict).toBe('met');
    expect(row([ran('ours', lost(3)), ...peers]).verdict).toBe('missed');
  });

  it('takes a scaling ratio over rounds as the quotient of the medians, and a round that sustained nothing as no ratio', () => {
    const round = (one: number, two: number): ScenarioOutcome => ({
      ...ran('ours', { key: 'sustained1', label: 'k=1', value: one, unit: '/s', better: 'higher', info: true }),
      figures: [
        { key: 'sustained1', label: 'k=1', value: one, unit: '/s', better: 'higher', info: true },
        { key: 'sustained2', label: 'k=2', value: two, unit: '/s', better: 'higher', info: true },
        {
          key: 'scaling2',
          label: 'k=2 / k=1',
          value: one > 0 ? two / one : Number.NaN,
          unit: 'x',
          better: 'higher',
          target: { bound: 1.8 },
          ratio: false,
          quotientOf: { numerator: 'sustained2', denominator: 'sustained1' },
        },
      ],
    });
    // Per-round ratios 1.5, 2.5 and 20 have a median of 2.5, a target met by one slow k=1 round;
    // the medians' quotient is 300 / 200.
    const figure = (outcome: ScenarioOutcome, key: string) => outcome.figures.find((f) => f.key === key)!.value;
    expect(figure(combineRounds([round(200, 300), round(200, 500), round(10, 200)]), 'scaling2')).toBeCloseTo(1.5);
    expect(figure(combineRounds([round(0, 300), round(0, 500), round(100, 200)]), 'scaling2')).toBeNaN();
  });
});
