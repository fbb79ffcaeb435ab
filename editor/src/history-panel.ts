/**
 * The history panel: the document's versions, newest first (when, its label or kind, who wrote);
 * a form to name the current text as a version (writers); a read-only preview of one, compared with
 * the current text; and Restore (admins), with an Undo that restores the version the server took
 * just before. A restore is an edit on the server that every open editor receives, this one too.
 */
import type { Node } from 'prosemirror-model';
import { Dialog } from './dialog.js';
import { type DocumentsApi, type RestoreResult, type VersionInfo, ApiError } from './documents-api.js';
import { h } from './dom.js';
import type { Permissions } from './token.js';
import { VersionPreview } from './version-preview.js';

export interface HistoryPanelOptions {
  readonly api: DocumentsApi;
  readonly permissions: Permissions;
  /** The current content, to compare versions with; null while there is none to show (paused). */
  readonly currentContent: () => Node | null;
  /** Calls `listener` after each change of the current content; returns a function that stops it. */
  readonly onContentChange: (listener: () => void) => () => void;
}

/** How each kind of version is named when it has no label. */
const KIND_NAMES: Readonly<Record<string, string>> = {
  auto: 'Saved automatically',
  named: 'Named version',
  'before-restore': 'Before a restore',
  restore: 'After a restore',
};

const TIME_FORMAT = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export class HistoryPanel {
  private readonly dialog: Dialog;
  private readonly list = h('ul', { class: 'ce-version-list', 'aria-label': 'Versions, newest first' });
  private readonly message = h('div', { class: 'ce-history-message', role: 'status', 'aria-live': 'polite' });
  private readonly main = h('div', { class: 'ce-history-main' });
  private readonly input = h('input', { class: 'ce-input', name: 'label', maxlength: '200', required: true, autocomplete: 'off' });
  private versions: VersionInfo[] = [];
  private selected: string | null = null;
  private preview: VersionPreview | null = null;
  /** Counts list loads and preview loads, so that only the latest answer of each is shown. */
  private listLoads = 0;
  private previewLoads = 0;
  private stopWatching: (() => void) | null = null;
  private comparePending = false;

  constructor(
    parent: HTMLElement,
    private readonly options: HistoryPanelOptions,
  ) {
    this.dialog = new Dialog(parent, { title: 'History', className: 'ce-history', onClose: () => this.closed() });
    const side = h('div', { class: 'ce-history-side' });
    if (options.permissions.write) {
      const form = h(
        'form',
        { class: 'ce-version-form' },
        h('label', {}, 'Name the current text', this.input),
        h('button', { type: 'submit', class: 'ce-primary' }, 'Save version'),
      );
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        void this.takeVersion();
      });
      side.append(form);
    }
    side.append(this.message, this.list);
    this.dialog.body.append(h('div', { class: 'ce-history-layout' }, side, this.main));
  }

  get isOpen(): boolean {
    return this.dialog.isOpen;
  }

  /** Opens the panel and loads the versions. */
  open(): void {
    this.say('');
    this.showPlaceholder('Choose a version to see it here.');
    this.dialog.open(this.options.permissions.write ? this.input : null);
    this.stopWatching = this.options.onContentChange(this.contentChanged);
    void this.refresh();
  }

  close(): void {
    this.dialog.close();
  }

  destroy(): void {
    this.dialog.destroy();
    this.closed();
  }

  private closed(): void {
    this.stopWatching?.();
    this.stopWatching = null;
    this.preview?.destroy();
    this.preview = null;
    this.selected = null;
  }

  private async refresh(): Promise<void> {
    const load = ++this.listLoads;
    if (this.versions.length === 0) this.list.replaceChildren(h('li', { class: 'ce-muted' }, 'Loading…'));
    try {
      const versions = await this.options.api.versions();
      if (load !== this.listLoads) return;
      this.versions = versions;
      this.renderList();
    } catch (error) {
      if (load !== this.listLoads) return;
      this.list.replaceChildren(h('li', { class: 'ce-error' }, `The history could not be loaded: ${reason(error)}.`));
    }
  }

  private renderList(): void {
    if (this.versions.length === 0) {
      const hint = this.options.permissions.write ? ' Name the current text above to keep it as one.' : '';
      this.list.replaceChildren(h('li', { class: 'ce-muted' }, `No versions yet.${hint}`));
      return;
    }
    this.list.replaceChildren(
      ...this.versions.map((version) => {
        const button = h(
          'button',
          { type: 'button', class: 'ce-version', 'data-version': version.id, 'aria-pressed': String(version.id === this.selected) },
          h('span', { class: 'ce-version-title' }, titleOf(version)),
          h('time', { class: 'ce-version-time', datetime: version.time }, TIME_FORMAT.format(new Date(version.time))),
        );
        if (version.authors.length > 0) button.append(h('span', { class: 'ce-version-authors' }, `by ${version.authors.join(', ')}`));
        button.addEventListener('click', () => void this.select(version));
        return h('li', {}, button);
      }),
    );
  }

  private async select(version: VersionInfo): Promise<void> {
    this.selected = version.id;
    for (const button of this.list.querySelectorAll<HTMLButtonElement>('.ce-version')) {
      button.setAttribute('aria-pressed', String(button.dataset['version'] === version.id));
    }
    const load = ++this.previewLoads;
    this.showPlaceholder('Loading the version…');
    let content: Node;
    try {
      content = await this.options.api.versionContent(version.id);
    } catch (error) {
      if (load === this.previewLoads) this.showPlaceholder(`This version could not be shown: ${reason(error)}.`, true);
      return;
    }
    if (load !== this.previewLoads || !this.isOpen) return;
    this.preview?.destroy();
    this.preview = new VersionPreview(content, this.options.currentContent());
    const head = h(
      'div',
      { class: 'ce-preview-head' },
      h('h3', { class: 'ce-preview-title' }, `${titleOf(version)}, ${TIME_FORMAT.format(new Date(version.time))}`),
    );
    if (this.options.permissions.admin) {
      const restore = h('button', { type: 'button', class: 'ce-primary', 'data-action': 'restore' }, 'Restore this version');
      restore.addEventListener('click', () => void this.restore(version, restore));
      head.append(restore);
    }
    this.main.replaceChildren(head, this.legend(), this.preview.element);
  }

  private legend(): HTMLElement {
    const item = (kind: string, text: string) => h('li', {}, h('span', { class: `ce-swatch ce-diff-${kind}`, 'aria-hidden': 'true' }), text);
    return h(
      'ul',
      { class: 'ce-diff-legend', 'aria-label': 'Marks' },
      item('added', 'not in the current text'),
      item('changed', 'different now'),
      item('removed', 'only in the current text'),
    );
  }

  private async restore(version: VersionInfo, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    this.say(`Restoring ${quoted(titleOf(version))}…`);
    try {
      const result = await this.options.api.restore(version.id);
      this.restored(result);
    } catch (error) {
      this.say(`Could not restore: ${reason(error)}.`, true);
    } finally {
      button.disabled = false;
    }
    await this.refresh();
  }

  private restored(result: RestoreResult): void {
    const undo = h('button', { type: 'button', class: 'ce-link-button', 'data-action': 'undo-restore' }, 'Undo');
    undo.addEventListener('click', async () => {
      undo.disabled = true;
      try {
        await this.options.api.restore(result.before.id);
        this.say('Undone: the text is back as it was before the restore.');
      } catch (error) {
        this.say(`Could not undo: ${reason(error)}.`, true);
      }
      await this.refresh();
    });
    this.say(`Restored ${quoted(titleOf(result.restored))}. `, false, undo);
  }

  private async takeVersion(): Promise<void> {
    const label = this.input.value.trim();
    if (label === '') return;
    try {
      const version = await this.options.api.takeVersion(label);
      this.input.value = '';
      this.say(`Saved ${quoted(titleOf(version))}.`);
    } catch (error) {
      this.say(`Could not save the version: ${reason(error)}.`, true);
    }
    await this.refresh();
  }

  private readonly contentChanged = (): void => {
    // Once per burst of changes, after the editor has shown them.
    if (this.comparePending) return;
    this.comparePending = true;
    queueMicrotask(() => {
      this.comparePending = false;
      this.preview?.compare(this.options.currentContent());
    });
  };

  private showPlaceholder(text: string, error = false): void {
    this.preview?.destroy();
    this.preview = null;
    this.main.replaceChildren(h('p', { class: error ? 'ce-error' : 'ce-muted' }, text));
  }

  private say(text: string, error = false, ...extra: HTMLElement[]): void {
    this.message.classList.toggle('ce-error', error);
    this.message.replaceChildren(text, ...extra);
  }
}

function titleOf(version: VersionInfo): string {
  return version.label ?? KIND_NAMES[version.kind] ?? version.kind;
}

function quoted(text: string): string {
  return `“${text}”`;
}

function reason(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return error instanceof Error ? error.message : String(error);
}
