import { scrub } from '@tokenkit/core/adapter';

/** Secrets shorter than this are not searched for: replacing every `a` in the output would make it unreadable. */
const SHORTEST = 3;

/**
 * Every secret the CLI knows of (client secret, password, tokens it received), and the one place that removes them
 * from what it prints. Core already keeps them out of its errors and events; this is the CLI's own guard for the
 * text it builds itself, the last step before anything reaches stdout or stderr. The forms searched for (as is,
 * URL- and form-encoded, JSON-escaped, base64) are core's, from `scrub`.
 */
export class Secrets {
  readonly #values = new Set<string>();

  /** Adds a secret; it is masked in every form it may take on the way out. */
  add(value: string | undefined): void {
    if (value !== undefined && value.length >= SHORTEST) this.#values.add(value);
  }

  /** `text` with every known secret replaced by `[REDACTED]`, longest forms first. */
  mask(text: string): string {
    return this.#values.size === 0 ? text : scrub(text, this.#values);
  }
}
