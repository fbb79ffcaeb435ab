/**
 * Markdown-style shortcuts typed at the start of a block (`# `, `- `, `1. `, `> `, ```` ``` ````,
 * `---`) or around text (`**bold**`, `*italic*`, `` `code` ``).
 */
import { InputRule, inputRules, textblockTypeInputRule, wrappingInputRule } from 'prosemirror-inputrules';
import { Fragment, type MarkType, type NodeType, type Schema } from 'prosemirror-model';
import { TextSelection, type Plugin } from 'prosemirror-state';

export function buildInputRules(schema: Schema): Plugin {
  const { nodes, marks } = schema;
  const rules: InputRule[] = [
    // `# ` to `###### `: a heading of that level.
    textblockTypeInputRule(/^(#{1,6})\s$/, node(nodes, 'heading'), (match) => ({ level: match[1]!.length })),
    // `- `, `* `, `+ `: a bullet list.
    wrappingInputRule(/^\s*([-+*])\s$/, node(nodes, 'bullet_list')),
    // `1. ` (any number): an ordered list starting there; joins a list directly above if it continues it.
    wrappingInputRule(
      /^(\d+)\.\s$/,
      node(nodes, 'ordered_list'),
      (match) => ({ order: Number(match[1]) }),
      (match, list) => list.childCount + Number(list.attrs['order']) === Number(match[1]),
    ),
    // `> `: a blockquote.
    wrappingInputRule(/^\s*>\s$/, node(nodes, 'blockquote')),
    // ```` ``` ````: a code block.
    textblockTypeInputRule(/^```$/, node(nodes, 'code_block')),
    horizontalRuleRule(node(nodes, 'horizontal_rule'), node(nodes, 'paragraph')),
    markRule(/(?<!\*)\*\*([^*\s](?:[^*]*[^*\s])?)\*\*$/, mark(marks, 'strong')),
    markRule(/(?<![\w_])__([^_\s](?:[^_]*[^_\s])?)__$/, mark(marks, 'strong')),
    markRule(/(?<!\*)\*([^*\s](?:[^*]*[^*\s])?)\*$/, mark(marks, 'em')),
    markRule(/(?<![\w_])_([^_\s](?:[^_]*[^_\s])?)_$/, mark(marks, 'em')),
    markRule(/(?<!`)`([^`]+)`$/, mark(marks, 'code')),
  ];
  return inputRules({ rules });
}

/**
 * `regexp` must match an opening delimiter, the text (its first group) and a closing delimiter of
 * the same length, ending with the character being typed. The delimiters are removed and the text
 * gets `markType`; typing goes on without the mark.
 */
function markRule(regexp: RegExp, markType: MarkType): InputRule {
  return new InputRule(regexp, (state, match, start, end) => {
    const text = match[1];
    if (text === undefined) return null;
    const delimiter = (match[0].length - text.length) / 2;
    // [start, end) holds the match except its last character, which is being typed and not inserted.
    const tr = state.tr;
    tr.delete(start + delimiter + text.length, end);
    tr.delete(start, start + delimiter);
    tr.addMark(start, start + text.length, markType.create());
    tr.removeStoredMark(markType);
    return tr;
  });
}

/** `---` as the whole content of a paragraph: a horizontal rule, then an empty paragraph to type on. */
function horizontalRuleRule(hr: NodeType, paragraph: NodeType): InputRule {
  return new InputRule(/^---$/, (state, _match, start) => {
    const $start = state.doc.resolve(start);
    if ($start.parent.type !== paragraph || $start.parent.content.size !== 2) return null;
    const container = $start.node(-1);
    const index = $start.index(-1);
    const replacement = Fragment.from([hr.create(), paragraph.create()]);
    if (!container.canReplace(index, index + 1, replacement)) return null;
    const tr = state.tr.replaceWith($start.before(), $start.after(), replacement);
    // Inside the new paragraph: past the rule (a leaf of size 1) and the paragraph's opening.
    tr.setSelection(TextSelection.create(tr.doc, $start.before() + 2));
    return tr.scrollIntoView();
  });
}

function node(nodes: Schema['nodes'], name: string): NodeType {
  const type = nodes[name];
  if (!type) throw new RangeError(`schema has no node type "${name}"`);
  return type;
}

function mark(marks: Schema['marks'], name: string): MarkType {
  const type = marks[name];
  if (!type) throw new RangeError(`schema has no mark type "${name}"`);
  return type;
}
