/**
 * The collaborative editor, for apps that embed it.
 *
 * ```ts
 * import { createEditor } from 'yjs-collab-server/editor';
 * const editor = createEditor(document.querySelector('#editor')!, {
 *   url: 'https://docs.example.com', document: 'team/notes', token, user: { name: 'Ada' },
 * });
 * editor.onStatusChange((status) => console.log(status.state)); // 'saving', 'saved', ...
 * ```
 *
 * Or as an element: `defineCollabEditor()` then `<collab-editor url=… document=…>`.
 */
export { createEditor, type CollabEditor, type EditorOptions } from './editor.js';
export { defineCollabEditor, type CollabEditorElement } from './element.js';
export { schema, FRAGMENT_NAME } from '../../protocol/document/schema.js';
export type { EditorStatus, StatusState } from './status.js';
export type { User } from './user.js';
