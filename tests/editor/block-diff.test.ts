/**
 * The history preview's block diff, without a browser: the sequence diff is a shortest edit script
 * (checked against a plain LCS on random sequences; seeded, `DIFF_SEED=<seed>` replays a failure),
 * and documents compare by leaf blocks, in place, as restoring would change them.
 */
import * as prng from 'lib0/prng';
import type { Node } from 'prosemirror-model';
import { describe, expect, it } from 'vitest';
import { type BlockChange, blockDiff, diffSequences, leafBlocks, MAX_DIFF_CELLS } from '../../editor/src/block-diff.js';
import { schema } from '../../protocol/document/schema.js';

const n = schema.nodes;
const p = (text: string): Node => n['paragraph']!.create(null, text === '' ? null : schema.text(text));
const heading = (text: string, level = 1): Node => n['heading']!.create({ level }, schema.text(text));
const list = (...items: string[]): Node =>
  n['bullet_list']!.create(
    null,
    items.map((item) => n['list_item']!.create(null, p(item))),
  );
const doc = (...blocks: Node[]): Node => n['doc']!.create(null, blocks);

/** The length of a longest common subsequence, the textbook way. */
function lcsLength(a: readonly string[], b: readonly string[]): number {
  let previous = new Array<number>(b.length + 1).fill(0);
  for (const x of a) {
    const row = [0];
    for (let j = 0; j < b.length; j++) row.push(x === b[j] ? previous[j]! + 1 : Math.max(previous[j + 1]!, row[j]!));
    previous = row;
  }
  return previous[b.length]!;
}

/** A change in words, for readable expectations. */
function describeChange(version: Node, change: BlockChange): string {
  if (change.kind === 'removed') return `removed "${change.current.textContent}" at ${change.at}`;
  const text = version.nodeAt(change.from)!.textContent;
  return change.kind === 'changed' ? `changed "${text}" (now "${change.current.textContent}")` : `added "${text}"`;
}

describe('diffSequences', () => {
  it('is a shortest edit script of random sequences, differences of a first in each run', () => {
    const seed = Number(process.env['DIFF_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`block diff test seed: ${seed} (replay with DIFF_SEED=${seed})`);
    const gen = prng.create(seed);
    for (let round = 0; round < 500; round++) {
      const alphabet = ['a', 'b', 'c', 'd', 'e'].slice(0, prng.int32(gen, 1, 5));
      const sequence = () => Array.from({ length: prng.int32(gen, 0, 30) }, () => prng.oneOf(gen, alphabet));
      const a = sequence();
      const b = prng.bool(gen) ? sequence() : a.map((x) => (prng.int32(gen, 0, 9) === 0 ? prng.oneOf(gen, alphabet) : x));
      const steps = diffSequences(a, b);
      const context = `seed ${seed}, round ${round}: ${a.join('')} -> ${b.join('')}`;
      // Every element of each, once, in order; equal where paired.
      expect(
        steps.flatMap((step) => (step.kind === 'only-b' ? [] : [step.a])),
        context,
      ).toEqual(a.map((_, i) => i));
      expect(
        steps.flatMap((step) => (step.kind === 'only-a' ? [] : [step.b])),
        context,
      ).toEqual(b.map((_, j) => j));
      for (const step of steps) if (step.kind === 'same') expect(a[step.a], context).toBe(b[step.b]);
      expect(steps.filter((step) => step.kind === 'same').length, context).toBe(lcsLength(a, b));
      for (let k = 1; k < steps.length; k++) expect(steps[k - 1]!.kind === 'only-b' && steps[k]!.kind === 'only-a', context).toBe(false);
    }
  });

  it('reports the middle as replaced whole past its size limit, keeping the common start and end', () => {
    // Common elements (c0...) a step apart in each: an LCS would pair them, the limit does not.
    const shared = Array.from({ length: Math.ceil(Math.sqrt(MAX_DIFF_CELLS)) }, (_, i) => `c${i}`);
    const a = ['start', 'x', ...shared, 'end'];
    const b = ['start', ...shared, 'y', 'end'];
    const steps = diffSequences(a, b);
    expect(steps.filter((step) => step.kind === 'same')).toEqual([
      { kind: 'same', a: 0, b: 0 },
      { kind: 'same', a: a.length - 1, b: b.length - 1 },
    ]);
    const middle = steps.slice(1, -1).map((step) => step.kind);
    expect(middle).toEqual([...Array(shared.length + 1).fill('only-a'), ...Array(shared.length + 1).fill('only-b')]);
  });
});

describe('blockDiff', () => {
  it('finds nothing between equal documents', () => {
    expect(blockDiff(doc(heading('Title'), p('Text'), list('one', 'two')), doc(heading('Title'), p('Text'), list('one', 'two')))).toEqual([]);
  });

  it('marks a paragraph edited since as changed, in place', () => {
    const version = doc(heading('Title'), p('The good text.'), p('Kept.'));
    const changes = blockDiff(version, doc(heading('Title'), p('A bad paste.'), p('Kept.')));
    expect(changes.map((change) => describeChange(version, change))).toEqual(['changed "The good text." (now "A bad paste.")']);
    expect(changes[0]).toMatchObject({ from: version.child(0).nodeSize, to: version.child(0).nodeSize + version.child(1).nodeSize });
  });

  it('marks blocks the current text lacks as added, and those only it has as removed where they stand', () => {
    const version = doc(p('one'), p('two'), p('three'));
    const changes = blockDiff(version, doc(p('one'), p('new'), p('three'), p('four')));
    expect(changes.map((change) => describeChange(version, change))).toEqual(['changed "two" (now "new")', `removed "four" at ${version.content.size}`]);
    const shorter = doc(p('one'), p('three'));
    expect(blockDiff(version, shorter).map((change) => describeChange(version, change))).toEqual(['added "two"']);
    const longer = doc(p('zero'), p('one'), p('two'), p('three'));
    expect(blockDiff(version, longer).map((change) => describeChange(version, change))).toEqual(['removed "zero" at 0']);
  });

  it('compares the paragraphs of a list one by one, and a block that only changed type as changed', () => {
    const version = doc(list('one', 'two', 'three'), p('Heading?'));
    const changes = blockDiff(version, doc(list('one', 'TWO', 'three'), heading('Heading?', 2)));
    expect(changes.map((change) => describeChange(version, change))).toEqual(['changed "two" (now "TWO")', 'changed "Heading?" (now "Heading?")']);
    expect(leafBlocks(version).map((block) => block.node.textContent)).toEqual(['one', 'two', 'three', 'Heading?']);
    // A paragraph moved out of the list is not the same block as one in it.
    expect(blockDiff(doc(list('one')), doc(p('one'))).map((change) => change.kind)).toEqual(['changed']);
  });

  it('counts a divider and an empty paragraph as blocks', () => {
    const version = doc(p('a'), n['horizontal_rule']!.create(), p(''));
    expect(blockDiff(version, doc(p('a'))).map((change) => change.kind)).toEqual(['added', 'added']);
  });
});
