/**
 * `<collab-editor>`: the editor as a custom element, for pages without a build step.
 *
 * ```html
 * <collab-editor url="https://docs.example.com" document="team/notes" token="…"></collab-editor>
 * ```
 *
 * Attributes: `url` (the server; defaults to where the script came from, for the script bundle),
 * `document` (required), `token`, `user-name`, `user-color`, `offline-cache="false"`,
 * `toolbar="false"`, `placeholder`, `document-actions` (`true` or `false`; see `EditorOptions`).
 * Changing `url`, `document` or `token` reopens the editor. A missing or invalid `document` or
 * `url` is explained in the element's text instead of an editor.
 * Events: `statuschange` (a `CustomEvent` whose `detail` is the new `EditorStatus`), and
 * `deleted` (a `CustomEvent` whose `detail` is `{ document }`) when the document was deleted.
 * Properties: `status` (or `null` before the element is connected), `editor` (the `CollabEditor`).
 */
import { createEditor, type CollabEditor } from './editor.js';
import type { EditorStatus } from './status.js';

const REOPEN_ON = ['url', 'document', 'token', 'offline-cache', 'toolbar', 'placeholder', 'document-actions'] as const;

/** Defines the `CollabEditorElement` class; `defaultUrl` is used when an element has no `url`. */
export function collabEditorElement(defaultUrl: () => string | null): typeof HTMLElement & { new (): CollabEditorElement } {
  return class extends HTMLElement implements CollabEditorElement {
    static get observedAttributes(): readonly string[] {
      return [...REOPEN_ON, 'user-name', 'user-color'];
    }

    private current: CollabEditor | null = null;
    /** The attributes the current editor was opened with, to reopen only when they change. */
    private openedWith: string | null = null;
    private reopenPending = false;

    get editor(): CollabEditor | null {
      return this.current;
    }

    get status(): EditorStatus | null {
      return this.current?.status ?? null;
    }

    connectedCallback(): void {
      this.open();
    }

    disconnectedCallback(): void {
      this.close();
    }

    attributeChangedCallback(name: string, previous: string | null, value: string | null): void {
      if (previous === value || !this.isConnected) return;
      if (this.current !== null && (name === 'user-name' || name === 'user-color')) {
        this.current.setUser(name === 'user-name' ? { name: value ?? undefined } : { color: value ?? undefined });
        return;
      }
      // Several attributes often change together: reopen once, after all of them.
      if (this.reopenPending) return;
      this.reopenPending = true;
      queueMicrotask(() => {
        this.reopenPending = false;
        if (this.isConnected && this.openingKey() !== this.openedWith) this.open();
      });
    }

    private openingKey(): string {
      return JSON.stringify(REOPEN_ON.map((name) => this.getAttribute(name)).concat(this.getAttribute('url') ?? defaultUrl()));
    }

    private open(): void {
      this.close();
      this.openedWith = this.openingKey();
      const document = this.getAttribute('document');
      const url = this.getAttribute('url') ?? defaultUrl();
      if (document === null || url === null) {
        this.textContent = document === null ? 'collab-editor: the "document" attribute is missing.' : 'collab-editor: the "url" attribute is missing.';
        return;
      }
      const flag = (name: string): boolean | undefined => (this.hasAttribute(name) ? this.getAttribute(name) !== 'false' : undefined);
      let editor: CollabEditor;
      try {
        editor = createEditor(this, {
          url,
          document,
          token: this.getAttribute('token') ?? undefined,
          user: { name: this.getAttribute('user-name') ?? undefined, color: this.getAttribute('user-color') ?? undefined },
          offlineCache: flag('offline-cache'),
          toolbar: flag('toolbar'),
          placeholder: this.getAttribute('placeholder') ?? undefined,
          documentActions: flag('document-actions'),
        });
      } catch (error) {
        // A bad `document` or `url` attribute: say so where the editor would be, like a missing one.
        if (!(error instanceof RangeError)) throw error;
        this.textContent = `collab-editor: ${error.message}.`;
        return;
      }
      editor.onStatusChange((status) => {
        this.dispatchEvent(new CustomEvent<EditorStatus>('statuschange', { detail: status }));
        if (status.state === 'deleted') this.dispatchEvent(new CustomEvent<{ document: string }>('deleted', { detail: { document } }));
      });
      this.current = editor;
    }

    private close(): void {
      this.current?.destroy();
      this.current = null;
    }
  };
}

export interface CollabEditorElement extends HTMLElement {
  readonly editor: CollabEditor | null;
  readonly status: EditorStatus | null;
}

/**
 * Registers `<collab-editor>` (or `tagName`) once; later calls are no-ops.
 * `defaultUrl` is the server used by elements without a `url` attribute (default: none).
 */
export function defineCollabEditor(tagName = 'collab-editor', defaultUrl: string | null = null): void {
  if (customElements.get(tagName) !== undefined) return;
  customElements.define(
    tagName,
    collabEditorElement(() => defaultUrl),
  );
}
