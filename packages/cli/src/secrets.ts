/** What a masked value reads as. */
export const MASK = '[REDACTED]';

/** Secrets shorter than this are not searched for: replacing every `a` in the output would make it unreadable. */
const SHORTEST = 3;

/**
 * Every secret the CLI knows of (client secret, password, tokens it received), and the one place that removes them
 * from what it prints. Core already keeps them out of its errors and events; this is the CLI's own guard for the
 * text it builds itself, the last step before anything reaches stdout or stderr.
 */
export class Secrets {
  readonly #forms = new Set<string>();

  /** Adds a secret in every form it may take on the way out: as is, URL- and form-encoded, JSON-escaped, base64. */
  add(value: string | undefined): void {
    if (value === undefined || value.length < SHORTEST) return;
    const forms = [
      value,
      encodeURIComponent(value),
      new URLSearchParams([['', value]]).toString().slice(1),
      JSON.stringify(value).slice(1, -1),
      Buffer.from(value).toString('base64'),
      Buffer.from(value).toString('base64url'),
    ];
    for (const form of forms) if (form.length >= SHORTEST) this.#forms.add(form);
  }

  /** `text` with every known secret replaced by {@link MASK}, longest forms first. */
  mask(text: string): string {
    let out = text;
    const forms = [...this.#forms].sort((a, b) => b.length - a.length);
    for (const form of forms) if (out.includes(form)) out = out.split(form).join(MASK);
    return out;
  }
}
