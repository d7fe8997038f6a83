/** Where the lines go: `process.stdout`, or a test's recorder. */
export interface Terminal {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

/** Erase the current line and go to its start (ANSI: carriage return, erase in line). */
const ERASE = '\r\x1b[2K';

/**
 * Permanent lines with one live status line under them. On a TTY the status line is rewritten in place (cut to
 * the terminal's width, so it never wraps); elsewhere (a CI log, a pipe) each change of the status's `key` is a
 * line of its own and the rest (a countdown) is not repeated: a log gets one line per change, never a spinner.
 */
export class LiveLine {
  private shown = '';
  private key: string | undefined;

  constructor(private readonly out: Terminal) {}

  /** A line above the status line. */
  say(line: string): void {
    if (this.shown) this.out.write(ERASE);
    this.out.write(`${line}\n`);
    if (this.shown) this.out.write(this.shown);
  }

  /** The status line: in place on a TTY; elsewhere a new line when `key` differs from the last one's. */
  status(text: string, key: string): void {
    if (!this.out.isTTY) {
      if (key !== this.key) this.out.write(`${text}\n`);
      this.key = key;
      return;
    }
    const width = Math.max(20, (this.out.columns || 80) - 1);
    const line = text.length > width ? `${text.slice(0, width - 1)}…` : text;
    if (line === this.shown) return;
    this.out.write(`${ERASE}${line}`);
    this.shown = line;
  }

  /** No status line any more (on a TTY it is erased; elsewhere its lines stay, as logs do). */
  clear(): void {
    if (this.shown) this.out.write(ERASE);
    this.shown = '';
    this.key = undefined;
  }
}
