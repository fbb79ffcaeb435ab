/**
 * Keyboard shortcuts. `Mod` is Cmd on macOS and Ctrl elsewhere.
 *
 * Mod-B bold, Mod-I italic, Mod-` inline code, Mod-K link (asks for the address),
 * Mod-Z undo, Shift-Mod-Z and Mod-Y redo, Shift-Enter hard break,
 * Shift-Ctrl-0 paragraph, Shift-Ctrl-1..6 heading, Shift-Ctrl-8 bullet list, Shift-Ctrl-9 ordered list,
 * Ctrl-> blockquote, Shift-Ctrl-\ code block, Mod-_ horizontal rule,
 * Enter / Tab / Shift-Tab in lists split, indent and outdent the item, Backspace right after a
 * markdown shortcut undoes it.
 */
import { baseKeymap } from 'prosemirror-commands';
import { undoInputRule } from 'prosemirror-inputrules';
import { keymap } from 'prosemirror-keymap';
import type { Command, Plugin } from 'prosemirror-state';
import { liftListItem, sinkListItem, splitListItem } from 'prosemirror-schema-list';
import {
  insertHardBreak,
  insertHorizontalRule,
  redo,
  setParagraph,
  toggleBlockquote,
  toggleBold,
  toggleBulletList,
  toggleCode,
  toggleCodeBlock,
  toggleHeading,
  toggleItalic,
  toggleOrderedList,
  undo,
} from './commands.js';
import { schema } from '../../protocol/document/schema.js';

/**
 * `command`, taking its key even when it has nothing to do. Undo and redo with nothing left would
 * otherwise let the key through: Shift-Mod-Z typed as a lowercase `z` (Caps Lock on) reached the
 * Mod-Z binding and undid the last change, and the browser's own undo could change the text behind
 * ProseMirror's back.
 */
function consumed(command: Command): Command {
  return (state, dispatch, view) => {
    command(state, dispatch, view);
    return true;
  };
}

/**
 * The editor's keymaps, most specific first. `askLink` is run for Mod-K; it is given the view's
 * state through the command and decides how to ask the user for an address.
 */
export function buildKeymaps(askLink: Command): Plugin[] {
  const listItem = schema.nodes['list_item']!;
  const keys: Record<string, Command> = {
    'Mod-z': consumed(undo),
    'Shift-Mod-z': consumed(redo),
    'Mod-y': consumed(redo),
    Backspace: undoInputRule,
    'Mod-b': toggleBold,
    'Mod-B': toggleBold,
    'Mod-i': toggleItalic,
    'Mod-I': toggleItalic,
    'Mod-`': toggleCode,
    'Mod-k': askLink,
    'Shift-Enter': insertHardBreak,
    'Mod-Enter': insertHardBreak,
    'Shift-Ctrl-0': setParagraph,
    'Shift-Ctrl-8': toggleBulletList,
    'Shift-Ctrl-9': toggleOrderedList,
    'Ctrl->': toggleBlockquote,
    'Shift-Ctrl-\\': toggleCodeBlock,
    'Mod-_': insertHorizontalRule,
    Enter: splitListItem(listItem),
    Tab: sinkListItem(listItem),
    'Shift-Tab': liftListItem(listItem),
  };
  for (let level = 1; level <= 6; level++) keys[`Shift-Ctrl-${level}`] = toggleHeading(level);
  return [keymap(keys), keymap(baseKeymap)];
}
