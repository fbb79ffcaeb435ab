/** The status indicator: a colored dot and a short label, announced politely to screen readers. */
import { h } from './dom.js';
import type { EditorStatus } from './status.js';

export class StatusBadge {
  readonly element: HTMLElement;
  private readonly label: HTMLElement;

  constructor(status: EditorStatus) {
    this.label = h('span', { class: 'ce-status-label' });
    this.element = h('span', { class: 'ce-status', role: 'status', 'aria-live': 'polite' }, h('span', { class: 'ce-dot', 'aria-hidden': 'true' }), this.label);
    this.update(status);
  }

  update(status: EditorStatus): void {
    this.element.dataset['state'] = status.state;
    this.element.dataset['unsaved'] = String(status.unsaved);
    this.element.title = status.readOnly ? `${status.label} (read-only)` : status.label;
    this.label.textContent = status.readOnly ? `${status.label} · Read-only` : status.label;
  }
}
