/**
 * The editor page served at `/d/<name>`. The server renders the shell; this mounts the editor.
 * The page's element `#editor` carries the document name in `data-document`. A `?token=` in the
 * page's URL is passed on to the server.
 */
import { createEditor, type CollabEditor } from './editor.js';

const mount = document.getElementById('editor');
const name = mount?.dataset['document'];
if (!mount || name === undefined) throw new RangeError('the page has no #editor element with a data-document attribute');

// The server is where this script came from (`<server>/assets/page-….js`), so a path prefix works too.
const server = new URL('..', import.meta.url).href;
const token = new URLSearchParams(location.search).get('token') ?? undefined;

const editor = createEditor(mount, { url: server, document: name, token, injectStyles: false });
editor.view?.focus();
// For the console (and tests): the page's editor, as `createEditor` returned it.
(window as unknown as { collabEditor: CollabEditor }).collabEditor = editor;
document.documentElement.dataset['status'] = editor.status.state;
editor.onStatusChange((status) => {
  document.documentElement.dataset['status'] = status.state;
});
// Leaving with changes the server has not stored: they are kept in this browser, but say so.
window.addEventListener('beforeunload', (event) => {
  if (editor.status.unsaved && !editor.status.connected) event.preventDefault();
});
