/**
 * The index page served at `/`: the documents in the store (from `GET /api/documents`) and a box
 * to open or create one. A `?token=` in the page's URL is passed to the API and to the editor.
 */
import { h } from './dom.js';
import { isDocumentName } from '../../protocol/document-name.js';

interface DocumentSummary {
  readonly name: string;
  readonly updatedAt: number;
  readonly size: number;
}

const server = new URL('..', import.meta.url);
const token = new URLSearchParams(location.search).get('token');

/** The editor page's URL for `name`, each path segment encoded, with the token if there is one. */
function editorHref(name: string): string {
  const path = name.split('/').map(encodeURIComponent).join('/');
  const url = new URL(`d/${path}`, server);
  if (token !== null) url.searchParams.set('token', token);
  return url.pathname + url.search;
}

function setUpForm(): void {
  const form = document.getElementById('open-form') as HTMLFormElement | null;
  const input = document.getElementById('open-name') as HTMLInputElement | null;
  const message = document.getElementById('open-message');
  if (!form || !input || !message) return;
  input.addEventListener('input', () => {
    input.setCustomValidity('');
    message.textContent = '';
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const name = input.value.trim();
    const text = nameProblem(name, Number(input.dataset['maxLength']) || null);
    if (text !== null) {
      input.setCustomValidity(text);
      message.textContent = text;
      return;
    }
    location.assign(editorHref(name));
  });
}

/**
 * Why the server would refuse `name`, or null. `maxLength` is the server's limit, from the page
 * (`data-max-length`); it counts characters (code points), as the server does, not UTF-16 units.
 */
function nameProblem(name: string, maxLength: number | null): string | null {
  if (!isDocumentName(name)) return 'Use letters, digits and - _ . ~ : @, with / between parts (like team/notes).';
  const length = [...name].length;
  if (maxLength !== null && length > maxLength) return `A name has at most ${maxLength} characters; this one has ${length}.`;
  return null;
}

async function loadList(): Promise<void> {
  const list = document.getElementById('documents');
  if (!list) return;
  const url = new URL('api/documents', server);
  if (token !== null) url.searchParams.set('token', token);
  let documents: DocumentSummary[];
  try {
    const response = await fetch(url, { headers: { accept: 'application/json' } });
    if (response.status === 401 || response.status === 403) {
      throw new Error(token === null ? 'this server needs an access token (add ?token=… to the address)' : 'the access token does not allow listing documents');
    }
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    documents = parseList(await response.json());
  } catch (error) {
    list.replaceChildren(h('p', { class: 'muted' }, `Could not load the documents: ${error instanceof Error ? error.message : String(error)}.`));
    return;
  }
  if (documents.length === 0) {
    list.replaceChildren(h('p', { class: 'muted' }, 'No documents yet. Name one above to start writing.'));
    return;
  }
  documents.sort((a, b) => b.updatedAt - a.updatedAt);
  list.replaceChildren(
    h(
      'ul',
      { class: 'doc-list' },
      ...documents.map((doc) =>
        h(
          'li',
          {},
          h('a', { href: editorHref(doc.name) }, doc.name),
          h('time', { datetime: new Date(doc.updatedAt).toISOString(), title: new Date(doc.updatedAt).toLocaleString() }, relativeTime(doc.updatedAt)),
        ),
      ),
    ),
  );
}

function parseList(body: unknown): DocumentSummary[] {
  const documents = (body as { documents?: unknown } | null)?.documents;
  if (!Array.isArray(documents)) throw new Error('the server sent an unexpected answer');
  return documents.flatMap((entry: unknown) => {
    const record = entry as Record<string, unknown> | null;
    if (typeof record?.['name'] !== 'string') return [];
    return [{ name: record['name'], updatedAt: Number(record['updatedAt']) || 0, size: Number(record['size']) || 0 }];
  });
}

const UNITS: readonly [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
];

function relativeTime(at: number): string {
  if (at <= 0) return '';
  const seconds = (at - Date.now()) / 1000;
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return 'just now';
}

setUpForm();
void loadList();
