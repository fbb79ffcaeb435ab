/**
 * What differs between a version of a document and its current content, block by block: what
 * restoring the version would add, remove and change. Blocks are the leaves of the block
 * structure (paragraphs, headings, code blocks, dividers; a list item's paragraphs one by one),
 * compared whole: a block with one letter changed is "changed", not diffed word by word.
 */
import type { Node } from 'prosemirror-model';

/** One step of a diff of two sequences: an element of both, or of only one. */
export type SequenceStep =
  | { readonly kind: 'same'; readonly a: number; readonly b: number }
  | { readonly kind: 'only-a'; readonly a: number }
  | { readonly kind: 'only-b'; readonly b: number };

/**
 * The most cells of the table `diffSequences` fills (4 bytes each) for the part of two sequences
 * between their common start and end. Past it, that part is reported as replaced whole: honest,
 * if coarser, and bounded in time and memory.
 */
export const MAX_DIFF_CELLS = 1 << 22;

/**
 * A shortest edit script from `a` to `b`: every index of each in increasing order, elements equal
 * in both paired as `same` (a longest common subsequence), the rest as `only-a` / `only-b`, and
 * in each run of differences those of `a` before those of `b`.
 */
export function diffSequences(a: readonly string[], b: readonly string[]): SequenceStep[] {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const steps: SequenceStep[] = [];
  for (let i = 0; i < start; i++) steps.push({ kind: 'same', a: i, b: i });
  const n = endA - start;
  const m = endB - start;
  if ((n + 1) * (m + 1) > MAX_DIFF_CELLS) {
    for (let i = start; i < endA; i++) steps.push({ kind: 'only-a', a: i });
    for (let j = start; j < endB; j++) steps.push({ kind: 'only-b', b: j });
  } else {
    // lengths[i * (m + 1) + j]: the longest common subsequence of a[start + i..] and b[start + j..].
    const width = m + 1;
    const lengths = new Uint32Array((n + 1) * width);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lengths[i * width + j] =
          a[start + i] === b[start + j] ? lengths[(i + 1) * width + j + 1]! + 1 : Math.max(lengths[(i + 1) * width + j]!, lengths[i * width + j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    const pendingB: SequenceStep[] = [];
    const flush = (): void => {
      steps.push(...pendingB);
      pendingB.length = 0;
    };
    while (i < n || j < m) {
      if (i < n && j < m && a[start + i] === b[start + j]) {
        flush();
        steps.push({ kind: 'same', a: start + i++, b: start + j++ });
      } else if (j < m && (i === n || lengths[i * width + j + 1]! >= lengths[(i + 1) * width + j]!)) {
        pendingB.push({ kind: 'only-b', b: start + j++ });
      } else {
        steps.push({ kind: 'only-a', a: start + i++ });
      }
    }
    flush();
  }
  for (let i = endA, j = endB; i < a.length; i++, j++) steps.push({ kind: 'same', a: i, b: j });
  return steps;
}

/** A leaf block of a document and where it starts. */
interface Block {
  readonly node: Node;
  readonly pos: number;
  /** What makes two blocks the same: their place in the structure, type, attributes and content. */
  readonly key: string;
}

/** The leaf blocks of `doc`, in order. */
export function leafBlocks(doc: Node): Block[] {
  const blocks: Block[] = [];
  const walk = (node: Node, offset: number, path: string): void => {
    node.forEach((child, childOffset) => {
      const pos = offset + childOffset;
      if (!child.isBlock) return;
      if (child.isTextblock || child.isLeaf) {
        blocks.push({ node: child, pos, key: `${path}|${JSON.stringify(child.toJSON())}` });
      } else {
        walk(child, pos + 1, `${path}/${child.type.name}${JSON.stringify(child.attrs)}`);
      }
    });
  };
  walk(doc, 0, '');
  return blocks;
}

/**
 * A difference between a version and the current content, as restoring the version would make it:
 * - `added`: a block of the version that the current content lacks, at `from`..`to` in the version;
 * - `changed`: a block of the version in place of `current`, a different one;
 * - `removed`: a block of the current content that the version lacks; `at` is where it would
 *   stand in the version (a position in the version, before the block that follows it).
 */
export type BlockChange =
  | { readonly kind: 'added'; readonly from: number; readonly to: number }
  | { readonly kind: 'changed'; readonly from: number; readonly to: number; readonly current: Node }
  | { readonly kind: 'removed'; readonly at: number; readonly current: Node };

/**
 * What differs between `version` and `current` (two documents of one schema), in the version's
 * order. In a run of differences, the version's blocks and the current ones are paired in order
 * as `changed`; what is left over is `added` or `removed`. Empty when the two have the same blocks.
 */
export function blockDiff(version: Node, current: Node): BlockChange[] {
  const ours = leafBlocks(version);
  const theirs = leafBlocks(current);
  const steps = diffSequences(
    ours.map((block) => block.key),
    theirs.map((block) => block.key),
  );
  const changes: BlockChange[] = [];
  let runA: Block[] = [];
  let runB: Block[] = [];
  const endRun = (next: number): void => {
    const paired = Math.min(runA.length, runB.length);
    for (let k = 0; k < runA.length; k++) {
      const block = runA[k]!;
      const range = { from: block.pos, to: block.pos + block.node.nodeSize };
      changes.push(k < paired ? { kind: 'changed', ...range, current: runB[k]!.node } : { kind: 'added', ...range });
    }
    for (let k = paired; k < runB.length; k++) changes.push({ kind: 'removed', at: next, current: runB[k]!.node });
    runA = [];
    runB = [];
  };
  for (const step of steps) {
    if (step.kind === 'only-a') runA.push(ours[step.a]!);
    else if (step.kind === 'only-b') runB.push(theirs[step.b]!);
    else endRun(ours[step.a]!.pos);
  }
  endRun(version.content.size);
  return changes;
}
