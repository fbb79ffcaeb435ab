/**
 * The server's documents API (`/api/documents/<name>`), as the editor uses it: the history,
 * exports and deletion. Every call sends the editor's token; the server decides what it allows.
 *
 * A page of another origin than the server's cannot read the answers (the API sends no CORS
 * headers), which is why the editor shows these actions only on the server's origin by default.
 */
import { Node } from 'prosemirror-model';
import { schema } from '../../protocol/document/schema.js';
import { socketUrl } from './session.js';

/** A version of the document, as `GET .../versions` lists it. */
export interface VersionInfo {
  readonly id: string;
  /** When it was taken (ISO 8601). */
  readonly time: string;
  /** `auto` (taken once edits paused), `named`, `before-restore`, `restore`. */
  readonly kind: string;
  readonly label: string | null;
  /** Who edited since the version before (token subjects or display names). */
  readonly authors: readonly string[];
  readonly size: number;
}

/** What `POST .../versions/<id>/restore` answers. */
export interface RestoreResult {
  readonly restored: VersionInfo;
  /** The document just before the restore: restoring it undoes the restore. */
  readonly before: VersionInfo;
  /** The document just after. */
  readonly version: VersionInfo;
}

/** The formats the document can be exported in, with the file extension of each. */
export const EXPORT_FORMATS = { markdown: 'md', html: 'html', json: 'json' } as const;
export type ExportFormat = keyof typeof EXPORT_FORMATS;

/** A refusal or failure: the server's `{ error, message }`, or `network` when there was no answer. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    /** The HTTP status; 0 without an answer. */
    readonly status: number,
    /** The server's error code (`not-admin`, `deleted`, ...), or `network`. */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class DocumentsApi {
  private readonly base: string;

  /** `url` is the server's base URL (as for the editor), `document` the document's name. */
  constructor(
    url: string,
    readonly document: string,
    private readonly token: string | undefined,
  ) {
    this.base = documentApiUrl(url, document);
  }

  /** The versions, newest first. */
  async versions(): Promise<VersionInfo[]> {
    const body = (await (await this.request('/versions')).json()) as { versions: VersionInfo[] };
    return body.versions;
  }

  /** Takes a named version of the document as it is now. */
  async takeVersion(label: string): Promise<VersionInfo> {
    const response = await this.request('/versions', { method: 'POST', body: JSON.stringify({ label }), headers: { 'content-type': 'application/json' } });
    return (await response.json()) as VersionInfo;
  }

  /** A version's content, as a document of the editor's schema. Throws `ApiError` (code `unreadable`) if it is not one. */
  async versionContent(id: string): Promise<Node> {
    const body = (await (await this.request(`/versions/${encodeURIComponent(id)}?format=json`)).json()) as { prosemirror?: unknown };
    try {
      const doc = Node.fromJSON(schema, body.prosemirror);
      doc.check();
      return doc;
    } catch (error) {
      throw new ApiError(200, 'unreadable', `the version holds content this editor cannot show (${error instanceof Error ? error.message : String(error)})`);
    }
  }

  /** Makes the document look like version `id` again, as an edit everyone connected receives (admin). */
  async restore(id: string): Promise<RestoreResult> {
    return (await (await this.request(`/versions/${encodeURIComponent(id)}/restore`, { method: 'POST' })).json()) as RestoreResult;
  }

  /** The document's content in `format`, as the server converts it. */
  async export(format: ExportFormat): Promise<Blob> {
    return (await this.request(`?format=${format}`)).blob();
  }

  /** Deletes the document for everyone (admin). Connected editors are told, with close code 4410. */
  async delete(): Promise<void> {
    await this.request('', { method: 'DELETE' });
  }

  private async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.token !== undefined && this.token !== '') headers.set('authorization', `Bearer ${this.token}`);
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, { ...init, headers, cache: 'no-store', credentials: 'omit' });
    } catch {
      throw new ApiError(0, 'network', 'the server could not be reached');
    }
    if (response.ok) return response;
    let code = `http-${response.status}`;
    let message = `the server answered ${response.status}`;
    try {
      const body = (await response.json()) as { error?: unknown; message?: unknown };
      if (typeof body.error === 'string') code = body.error;
      if (typeof body.message === 'string') message = body.message;
    } catch {
      // Not the API's JSON (a proxy's page, say): the status says enough.
    }
    throw new ApiError(response.status, code, message);
  }
}

/** `http(s)://host/prefix/api/documents/<document>`: the document in the HTTP API (its name one path segment). */
export function documentApiUrl(url: string, document: string): string {
  const server = socketUrl(url).replace(/^ws/, 'http').replace(/\/ws$/, '');
  return `${server}/api/documents/${encodeURIComponent(document)}`;
}
