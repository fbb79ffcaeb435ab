/** WebSocket close codes (RFC 6455, section 7.4.1) this server sends, with what each means here. */
export const CLOSE = {
  /** The server is stopping. */
  goingAway: 1001,
  /** A frame that breaks the WebSocket protocol. */
  protocolError: 1002,
  /** A text message: the protocol is binary. */
  unsupportedData: 1003,
  /** A message that does not decode, or an update the document cannot take (or a close reason that is not UTF-8). */
  invalidPayload: 1007,
  /** A policy was broken (rate, limits, permissions, an expired token). */
  policyViolation: 1008,
  /** A message over the size limit, or a document grown past its limit. */
  messageTooBig: 1009,
  /** The server failed: a write or a load did not succeed. Reconnecting resyncs. */
  internalError: 1011,
  /** The client reads too slowly, or must send again later; reconnecting resyncs. */
  tryAgainLater: 1013,
  /**
   * The document was deleted (an application code, after HTTP's 410 Gone): the client must not
   * send its copy back, and should drop any offline copy it keeps. Connecting with `create=1`
   * creates the document again.
   */
  deleted: 4410,
} as const;
