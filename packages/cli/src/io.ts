import type { Secrets } from './secrets.ts';

/** Exit codes, documented in the README and in `tokenkit --help`. */
export const EXIT = {
  /** Done: a token was printed, the configuration works, the JWT is current. */
  ok: 0,
  /** A failure was found: no token, the configuration does not work as given, the JWT is expired or undecodable. */
  failure: 1,
  /** The command line or the configuration is unusable: unknown flag, missing client id, bad URL, ... */
  usage: 2,
} as const;

/** A usage error: printed with a pointer to `--help`, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** How long a wait may take before a progress line goes to stderr. */
export const PROGRESS_AFTER_MS = 1000;

/**
 * Where a command writes. stdout gets only the result (a token, a report, JSON); stderr gets warnings and
 * progress. Everything passes through {@link Secrets.mask} except what the user asked to see on stdout (the token).
 */
export class Output {
  readonly secrets: Secrets;
  readonly #quiet: boolean;

  constructor(secrets: Secrets, quiet = false) {
    this.secrets = secrets;
    this.#quiet = quiet;
  }

  /** The result, unmasked: only for what the command exists to print (`tokenkit token`). */
  result(text: string): void {
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** A line of a report on stdout, masked. */
  line(text = ''): void {
    process.stdout.write(`${this.secrets.mask(text)}\n`);
  }

  /** A warning on stderr, masked; printed even with `--quiet`. */
  warn(text: string): void {
    process.stderr.write(`tokenkit: ${this.secrets.mask(text)}\n`);
  }

  /** A progress note on stderr, masked; `--quiet` silences it. */
  progress(text: string): void {
    if (!this.#quiet) process.stderr.write(`tokenkit: ${this.secrets.mask(text)}\n`);
  }

  /**
   * Runs `work`; if it takes longer than {@link PROGRESS_AFTER_MS}, says on stderr what we are waiting for (and
   * again every 5 s), so a slow token endpoint does not look like a hung command.
   */
  async waitingFor<T>(what: string, work: Promise<T>): Promise<T> {
    const started = performance.now();
    const say = () => this.progress(`waiting for ${what} (${Math.round((performance.now() - started) / 1000)} s)...`);
    let timer = setTimeout(function tick() {
      say();
      timer = setTimeout(tick, 5000);
    }, PROGRESS_AFTER_MS);
    try {
      return await work;
    } finally {
      clearTimeout(timer);
    }
  }
}
