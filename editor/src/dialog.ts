/**
 * A modal dialog on the browser's `<dialog>`: it takes the focus when it opens (to the element
 * given, else its first control), keeps it inside while open, closes on Escape or its close
 * button, and gives the focus back to where it was.
 */
import { h, icon } from './dom.js';

const CLOSE_ICON = '<path d="M6 6l12 12M18 6 6 18"/>';

let dialogs = 0;

export interface DialogOptions {
  /** The dialog's title, which also names it for assistive technology. */
  readonly title: string;
  /** A class for styling (besides `ce-dialog`). */
  readonly className: string;
  /** `alertdialog` for a confirmation. Default `dialog`. */
  readonly role?: 'dialog' | 'alertdialog';
  /** Called after it closed, however it was closed. */
  readonly onClose?: () => void;
}

export class Dialog {
  readonly element: HTMLDialogElement;
  /** Where the dialog's content goes, under its title. */
  readonly body: HTMLElement;
  private returnFocus: HTMLElement | null = null;

  /** Creates the dialog (closed) inside `parent`. */
  constructor(parent: HTMLElement, options: DialogOptions) {
    const titleId = `ce-dialog-title-${++dialogs}`;
    const close = h('button', { type: 'button', class: 'ce-button ce-dialog-close', title: 'Close', 'aria-label': 'Close' }, icon(CLOSE_ICON));
    close.addEventListener('click', () => this.close());
    this.body = h('div', { class: 'ce-dialog-body' });
    this.element = h(
      'dialog',
      { class: `ce-dialog ${options.className}`, 'aria-labelledby': titleId, ...(options.role === 'alertdialog' ? { role: 'alertdialog' } : {}) },
      h('div', { class: 'ce-dialog-head' }, h('h2', { id: titleId, class: 'ce-dialog-title' }, options.title), close),
      this.body,
    );
    // Escape: the browser closes a modal dialog itself ("cancel", then "close").
    this.element.addEventListener('close', () => {
      options.onClose?.();
      const target = this.returnFocus;
      this.returnFocus = null;
      if (target?.isConnected) target.focus();
    });
    // A click on the backdrop (outside the dialog's box) closes it, as Escape does.
    this.element.addEventListener('mousedown', (event) => {
      if (event.target === this.element && outside(this.element, event)) this.close();
    });
    parent.append(this.element);
  }

  get isOpen(): boolean {
    return this.element.open;
  }

  /** Opens it and moves the focus to `focus` (default: the first control in it). */
  open(focus?: HTMLElement | null): void {
    if (this.element.open) return;
    const active = document.activeElement;
    this.returnFocus = active instanceof HTMLElement ? active : null;
    this.element.showModal();
    focus?.focus();
  }

  close(): void {
    if (this.element.open) this.element.close();
  }

  /** Closes it and removes it from the page. */
  destroy(): void {
    this.close();
    this.element.remove();
  }
}

function outside(element: HTMLElement, event: MouseEvent): boolean {
  const box = element.getBoundingClientRect();
  return event.clientX < box.left || event.clientX > box.right || event.clientY < box.top || event.clientY > box.bottom;
}
