/**
 * The one error type that crosses the HTTP boundary. Anything that refuses a request throws an
 * `HttpError`; the app's error handler (and the WebSocket upgrade gate) turn it into a response
 * with its status and a JSON body `{ error: code, message }`.
 */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 406 | 409 | 410 | 413 | 415 | 426 | 429 | 503,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  /** The response body, as sent for both plain requests and refused upgrades. */
  toJSON(): { error: string; message: string } {
    return { error: this.code, message: this.message };
  }
}
