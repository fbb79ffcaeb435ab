/**
 * The document's own actions in the editor's bar: History (the panel), Export (Markdown, HTML or
 * JSON, downloaded as the server converts it) and, for admin tokens, Delete, after a confirmation.
 */
import { Dialog } from './dialog.js';
import { ApiError, EXPORT_FORMATS, type ExportFormat } from './documents-api.js';
import { h, icon } from './dom.js';
import { HistoryPanel, type HistoryPanelOptions } from './history-panel.js';

const ICONS = {
  history: '<path d="M3 12a9 9 0 1 0 3-6.7L3 8"/><path d="M3 3v5h5"/><path d="M12 7v5l3 2"/>',
  export: '<path d="M12 4v11"/><path d="m7 10 5 5 5-5"/><path d="M5 20h14"/>',
  delete: '<path d="M4 7h16"/><path d="M10 11v6M14 11v6"/><path d="M6 7l1 13h10l1-13"/><path d="M9 7V4h6v3"/>',
};

const FORMAT_NAMES: Readonly<Record<ExportFormat, string>> = { markdown: 'Markdown', html: 'HTML', json: 'JSON (ProseMirror)' };

/** How long a download's object URL stays valid: the browser reads it after the click returns. */
const REVOKE_AFTER_MS = 60_000;

export class DocumentActions {
  readonly element: HTMLElement;
  private readonly history: HistoryPanel;
  private readonly confirm: Dialog | null = null;
  private readonly buttons: HTMLButtonElement[] = [];
  private readonly menu: HTMLElement;
  private readonly menuButton: HTMLButtonElement;
  private readonly menuMessage = h('p', { class: 'ce-menu-message', role: 'alert' });

  /** `parent` receives the dialogs (inside the editor, for its styles). */
  constructor(
    parent: HTMLElement,
    private readonly options: HistoryPanelOptions,
  ) {
    this.history = new HistoryPanel(parent, options);
    this.element = h('div', { class: 'ce-actions', role: 'toolbar', 'aria-label': 'Document' });
    this.element.append(this.button('history', 'History: versions, preview and restore', ICONS.history, () => this.history.open()));

    this.menuButton = this.button('export', 'Export: download as Markdown, HTML or JSON', ICONS.export, () => this.toggleMenu());
    this.menuButton.setAttribute('aria-haspopup', 'menu');
    this.menuButton.setAttribute('aria-expanded', 'false');
    this.menu = h('div', { class: 'ce-menu', role: 'menu', 'aria-label': 'Export', hidden: true });
    for (const format of Object.keys(EXPORT_FORMATS) as ExportFormat[]) {
      const item = h(
        'button',
        { type: 'button', role: 'menuitem', class: 'ce-menu-item', 'data-format': format },
        `${FORMAT_NAMES[format]} (.${EXPORT_FORMATS[format]})`,
      );
      item.addEventListener('click', () => void this.export(format));
      this.menu.append(item);
    }
    this.menu.append(this.menuMessage);
    this.menu.addEventListener('keydown', this.onMenuKey);
    // Tabbing out of the menu closes it, as a click outside does. (A click on an item may take
    // the focus nowhere, in Safari: that is not leaving.)
    this.menu.addEventListener('focusout', (event) => {
      const to = event.relatedTarget;
      if (to instanceof Node && !this.menu.parentElement!.contains(to)) this.closeMenu(false);
    });
    this.element.append(h('div', { class: 'ce-menu-anchor' }, this.menuButton, this.menu));

    if (options.permissions.admin) {
      this.confirm = this.confirmation(parent);
      const dialog = this.confirm;
      this.element.append(
        this.button('delete', 'Delete the document', ICONS.delete, () => dialog.open(dialog.body.querySelector<HTMLElement>('[data-action=cancel]'))),
      );
    }
  }

  /** Enables or disables every action; disabled (the document was deleted), open dialogs close. */
  setAvailable(available: boolean): void {
    for (const button of this.buttons) button.disabled = !available;
    if (available) return;
    this.history.close();
    this.confirm?.close();
    this.closeMenu(false);
  }

  destroy(): void {
    this.closeMenu(false);
    this.history.destroy();
    this.confirm?.destroy();
  }

  private button(name: string, label: string, body: string, action: () => void): HTMLButtonElement {
    const button = h('button', { type: 'button', class: 'ce-button', 'data-action': name, title: label, 'aria-label': label }, icon(body));
    button.addEventListener('click', action);
    this.buttons.push(button);
    return button;
  }

  private confirmation(parent: HTMLElement): Dialog {
    const dialog = new Dialog(parent, { title: 'Delete this document?', className: 'ce-confirm', role: 'alertdialog' });
    const error = h('p', { class: 'ce-error', role: 'alert' });
    const cancel = h('button', { type: 'button', class: 'ce-secondary', 'data-action': 'cancel' }, 'Cancel');
    const remove = h('button', { type: 'button', class: 'ce-danger', 'data-action': 'confirm-delete' }, 'Delete document');
    cancel.addEventListener('click', () => dialog.close());
    remove.addEventListener('click', async () => {
      remove.disabled = true;
      error.textContent = '';
      try {
        await this.options.api.delete();
        dialog.close();
      } catch (caught) {
        error.textContent = `It was not deleted: ${caught instanceof ApiError ? caught.message : String(caught)}.`;
      } finally {
        remove.disabled = false;
      }
    });
    const what = h(
      'p',
      { id: `${dialog.element.getAttribute('aria-labelledby')}-what` },
      `“${this.options.api.document}”, its history and every version of it are deleted for everyone. This cannot be undone.`,
    );
    dialog.element.setAttribute('aria-describedby', what.id);
    dialog.body.append(
      what,
      h('p', { class: 'ce-muted' }, 'Open editors say that it was deleted, and whoever can write may create it again, empty.'),
      error,
      h('div', { class: 'ce-dialog-actions' }, cancel, remove),
    );
    return dialog;
  }

  private toggleMenu(): void {
    if (this.menu.hidden) this.openMenu();
    else this.closeMenu(true);
  }

  private openMenu(): void {
    this.menuMessage.textContent = '';
    this.menu.hidden = false;
    this.menuButton.setAttribute('aria-expanded', 'true');
    this.menu.querySelector<HTMLElement>('[role=menuitem]')?.focus();
    document.addEventListener('mousedown', this.onOutside, true);
  }

  private closeMenu(refocus: boolean): void {
    if (this.menu.hidden) return;
    this.menu.hidden = true;
    this.menuButton.setAttribute('aria-expanded', 'false');
    document.removeEventListener('mousedown', this.onOutside, true);
    if (refocus) this.menuButton.focus();
  }

  private readonly onOutside = (event: MouseEvent): void => {
    if (!(event.target instanceof Node) || !this.menu.parentElement!.contains(event.target)) this.closeMenu(false);
  };

  private readonly onMenuKey = (event: KeyboardEvent): void => {
    const items = [...this.menu.querySelectorAll<HTMLElement>('[role=menuitem]')];
    const at = items.indexOf(document.activeElement as HTMLElement);
    if (event.key === 'Escape') this.closeMenu(true);
    else if (event.key === 'ArrowDown') items[(at + 1) % items.length]?.focus();
    else if (event.key === 'ArrowUp') items[(at - 1 + items.length) % items.length]?.focus();
    else return;
    event.preventDefault();
  };

  private async export(format: ExportFormat): Promise<void> {
    this.menuMessage.textContent = '';
    let blob: Blob;
    try {
      blob = await this.options.api.export(format);
    } catch (error) {
      this.menuMessage.textContent = `Could not export: ${error instanceof ApiError ? error.message : String(error)}.`;
      return;
    }
    const url = URL.createObjectURL(blob);
    const link = h('a', { href: url, download: fileName(this.options.api.document, format), hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), REVOKE_AFTER_MS);
    this.closeMenu(true);
  }
}

/** A file name for the document: its name, with what file systems refuse replaced. */
export function fileName(document: string, format: ExportFormat): string {
  const base = document.replace(/[/\\:*?"<>|\u0000-\u001f]+/g, '-').replace(/^[.-]+/, '') || 'document';
  return `${base}.${EXPORT_FORMATS[format]}`;
}
