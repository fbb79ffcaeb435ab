/**
 * The single-file script bundle (`collab-editor.js`) for pages without a build step:
 *
 * ```html
 * <script src="https://docs.example.com/assets/collab-editor.js"></script>
 * <collab-editor document="team/notes"></collab-editor>
 * ```
 *
 * Loading it defines `<collab-editor>`, whose default `url` is the server the script came from,
 * and exposes `window.CollabEditor = { createEditor, defineCollabEditor }`.
 */
import { createEditor } from './editor.js';
import { defineCollabEditor } from './element.js';

const script = document.currentScript;
// The script is served from `<server>/assets/`, so the server is its parent directory.
const serverUrl = script instanceof HTMLScriptElement && script.src !== '' ? new URL('..', script.src).href : null;

defineCollabEditor('collab-editor', serverUrl);

declare global {
  interface Window {
    CollabEditor: { createEditor: typeof createEditor; defineCollabEditor: typeof defineCollabEditor };
  }
}

window.CollabEditor = { createEditor, defineCollabEditor };
