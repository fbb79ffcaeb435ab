/**
 * The presence list (who else has the document open, from the awareness states) and this user's
 * own entry, which opens a small form to change the display name.
 */
import type { Awareness } from 'y-protocols/awareness';
import { h } from './dom.js';
import { cleanName, type User } from './user.js';

export interface PresenceOptions {
  readonly awareness: Awareness;
  /** Called with a new, cleaned name when the user renames themselves; `null` disables renaming. */
  readonly onRename: ((name: string) => void) | null;
  /** Called when the rename form closes (saved or cancelled), to give the focus back to the text. */
  readonly onRenameClosed?: (() => void) | undefined;
}

/** Peers' `user` awareness field, validated: anything a remote client sends is untrusted. */
export function peerUser(state: Record<string, unknown> | undefined): User | null {
  const user = state?.['user'];
  if (typeof user !== 'object' || user === null) return null;
  const record = user as Record<string, unknown>;
  const name = cleanName(typeof record['name'] === 'string' ? record['name'] : null);
  const color = typeof record['color'] === 'string' && /^#[0-9a-fA-F]{6}$/.test(record['color']) ? record['color'] : '#64748b';
  return name === null ? null : { name, color };
}

export class PresenceList {
  readonly element: HTMLElement;
  private readonly list: HTMLUListElement;
  private readonly form: HTMLFormElement;
  private readonly input: HTMLInputElement;
  private renderedKey = '';

  constructor(private readonly options: PresenceOptions) {
    this.list = h('ul', { class: 'ce-people', 'aria-label': 'People here' });
    this.input = h('input', { class: 'ce-name-input', name: 'name', maxlength: '60', autocomplete: 'nickname', 'aria-label': 'Your name' });
    this.form = h(
      'form',
      { class: 'ce-rename', hidden: true },
      h('label', {}, 'Your name', this.input),
      h(
        'div',
        { class: 'ce-rename-actions' },
        h('button', { type: 'button', class: 'ce-quiet', 'data-action': 'cancel' }, 'Cancel'),
        h('button', { type: 'submit' }, 'Save'),
      ),
    );
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      const name = cleanName(this.input.value);
      if (name !== null) this.options.onRename?.(name);
      this.closeForm();
    });
    this.form.querySelector('[data-action=cancel]')!.addEventListener('click', () => this.closeForm());
    this.form.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') this.closeForm();
    });
    this.element = h('div', { class: 'ce-presence' }, this.list, this.form);
    options.awareness.on('change', this.render);
    this.render();
  }

  destroy(): void {
    this.options.awareness.off('change', this.render);
  }

  private readonly render = (): void => {
    const { awareness } = this.options;
    const people: { id: number; user: User; self: boolean }[] = [];
    for (const [id, state] of awareness.getStates()) {
      const user = peerUser(state);
      if (user !== null) people.push({ id, user, self: id === awareness.clientID });
    }
    people.sort((a, b) => Number(b.self) - Number(a.self) || a.user.name.localeCompare(b.user.name) || a.id - b.id);
    // Awareness changes with every caret move; redraw only when the people themselves change,
    // so a click on the list is never lost to a redraw between mouse down and up.
    const key = JSON.stringify(people.map((person) => [person.id, person.user.name, person.user.color]));
    if (key === this.renderedKey) return;
    this.renderedKey = key;
    this.list.replaceChildren(...people.map((person) => this.entry(person.user, person.self)));
    this.list.setAttribute('aria-label', `${people.length} ${people.length === 1 ? 'person' : 'people'} here`);
  };

  private entry(user: User, self: boolean): HTMLLIElement {
    const label = self ? `${user.name} (you)` : user.name;
    const avatar = h('span', { class: 'ce-avatar', 'aria-hidden': 'true' }, initials(user.name));
    avatar.style.backgroundColor = user.color;
    const name = h('span', { class: 'ce-person-name' }, user.name);
    if (!self || this.options.onRename === null) {
      return h('li', { class: 'ce-person', title: label, 'data-self': self }, avatar, name);
    }
    const button = h(
      'button',
      { type: 'button', class: 'ce-person-button', title: 'You: change your name', 'aria-label': `You are ${user.name}. Change your name` },
      avatar,
      name,
    );
    button.addEventListener('click', () => this.openForm(user.name));
    return h('li', { class: 'ce-person', 'data-self': true }, button);
  }

  private openForm(name: string): void {
    this.form.hidden = false;
    this.input.value = name;
    this.input.focus();
    this.input.select();
  }

  private closeForm(): void {
    this.form.hidden = true;
    this.options.onRenameClosed?.();
  }
}

function initials(name: string): string {
  const words = name.split(' ').filter((word) => word.length > 0);
  const letters = words.length > 1 ? [words[0]!, words[words.length - 1]!].map((word) => [...word][0]) : [...name].slice(0, 2);
  return letters.join('').toUpperCase();
}
