/**
 * Base of every error barelb raises on purpose. `code` is stable: logs, metrics
 * and tests key on it, never on the message.
 */
export abstract class BarelbError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
