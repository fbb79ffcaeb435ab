/** The one error the codecs throw: what was wrong with a message, and a code for it. */

/** What was wrong with a message, as the code a refusal names. */
export type ProtocolErrorCode =
  | 'empty-message'
  | 'truncated'
  | 'unknown-message-type'
  | 'unknown-sync-type'
  | 'trailing-bytes'
  | 'invalid-update'
  | 'invalid-state-vector'
  | 'invalid-awareness';

/** A message that does not follow the protocol. The server closes the connection that sent it with code 1007. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** An error's message, for the message of a `ProtocolError` it causes. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
