import model from 'wink-eng-lite-web-model';
import winkNLP, { type WinkMethods } from 'wink-nlp';
import type { CleanConfig } from '../config/params-schema.ts';
import {
  CLOSING_MARKS,
  LETTER_AND_PERIOD,
  ONE_WORD,
  WINK_PIECE,
  WORD_THEN_MARK,
  wordPieceShape,
} from './word-pieces.ts';

/** Negations are stop words in most lists, yet they flip sentiment; `keep_negations` spares them. */
const NEGATIONS = new Set([
  'not',
  'no',
  'never',
  'nor',
  'none',
  'nothing',
  'nobody',
  'neither',
  'nowhere',
  'cannot',
]);

const HTML_TAG = /<[^>]{0,200}>/g;
const HTML_ENTITY = /&(amp|lt|gt|quot|#39|apos|nbsp);/g;
const ENTITY_TEXT: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  '#39': "'",
  apos: "'",
  nbsp: ' ',
};

const CONTRACTIONS = new Map([
  ["n't", 'not'],
  ['n’t', 'not'],
  ["'m", 'am'],
  ["'re", 'are'],
  ["'ve", 'have'],
  ["'ll", 'will'],
  ["'d", 'would'],
]);
const SPACE_OR_CONTROL = /[\s\p{Cc}]/u;
const SPACE_OR_CONTROL_ALL = /[\s\p{Cc}]+/gu;
const NUMERIC = /^[-+]?\d[\d.,/:-]*$/;
const CLITIC_S = /^['’]s$/i;
const EDGE_QUOTES = /^['’]+|['’]+$/g;
const POSSESSIVE = /^(.+)('s|’s)$/i;
const URL_TYPES = new Set(['url', 'email']);
const NUMBER_TYPES = new Set(['number', 'ordinal', 'time', 'decade']);
const PUNCTUATION_TYPES = new Set(['punctuation', 'symbol', 'currency']);
const SPACE_TYPES = new Set(['tabCRLF', 'space']);

/**
 * wink-nlp adds every token it has not met before to its lexicon, for the life of the nlp object: a server fed
 * made-up words would grow with every request until its workers run out of memory. So an nlp object is replaced
 * once its cleaners have seen this many distinct tokens (the known words of the model's own lexicon counted too):
 * wink's memory stays bounded, at the price of a rebuild (the language model loaded again) per that many new
 * tokens. Real text saturates: IMDB's 25k reviews hold ~99k distinct forms, AG News adds ~9k.
 */
export const MAX_DISTINCT_TOKENS = 100_000;

interface Tokenizer {
  nlp: WinkMethods;
  /** Distinct token forms read by this nlp object: a bound on what it has added to its lexicon. */
  seen: Set<string>;
  generation: number;
}

// The model's metaCER() re-stringifies its own cached JSON on every call (a string that grows until it no longer
// fits in memory after some twenty nlp objects); its first answer is what wink-nlp means to get every time.
const winkModel = model as typeof model & { metaCER: () => unknown };
let metaCER: unknown;
const stableModel = { ...winkModel, metaCER: () => (metaCER ??= winkModel.metaCER()) } as typeof model;

// Building an nlp object loads the language model: one per pipeline shape per process, built on
// first use so a server that never lemmatizes does not pay for the POS tagger at cold start.
const tokenizers = new Map<'tokenize' | 'pos', Tokenizer>();
function tokenizerFor(shape: 'tokenize' | 'pos', maxDistinctTokens: number): Tokenizer {
  let tokenizer = tokenizers.get(shape);
  if (!tokenizer || tokenizer.seen.size > maxDistinctTokens) {
    tokenizer = {
      nlp: winkNLP(stableModel, shape === 'pos' ? ['pos'] : []),
      seen: new Set(),
      generation: (tokenizer?.generation ?? 0) + 1,
    };
    tokenizers.set(shape, tokenizer);
  }
  return tokenizer;
}

/** How many nlp objects of a shape this process has built, and the distinct tokens the current one has read. */
export function tokenizerState(shape: 'tokenize' | 'pos'): { generation: number; distinctTokens: number } {
  const tokenizer = tokenizers.get(shape);
  return { generation: tokenizer?.generation ?? 0, distinctTokens: tokenizer?.seen.size ?? 0 };
}

/** A text's tokens with where each came from: `spans[2i]`, `spans[2i + 1]` = [start, end) in the input text. */
export interface CleanedText {
  tokens: string[];
  spans: Int32Array;
}

export type TextCleaner = ((text: string) => string[]) & {
  /** The same tokens, each with the span of the input text it was read from (explanations). */
  withSpans(text: string): CleanedText;
};

/**
 * A text being rewritten before tokenizing, with each character's origin in the input: `from[i]`, `to[i]` bound
 * the input characters character i stands for (null: the identity, until a rewrite changes something).
 */
interface TrackedText {
  text: string;
  from: number[] | null;
  to: number[] | null;
}

/** `text.replace(re, fn)` (re global) that keeps each character's origin; a replacement maps to its whole match. */
function replaceTracked(
  t: TrackedText,
  re: RegExp,
  fn: (match: string, ...groups: string[]) => string,
): TrackedText {
  const from: number[] = [];
  const to: number[] = [];
  let text = '';
  let last = 0;
  let matched = false;
  const copy = (end: number) => {
    for (let i = last; i < end; i++) {
      from.push(t.from ? t.from[i] : i);
      to.push(t.to ? t.to[i] : i + 1);
    }
    text += t.text.slice(last, end);
  };
  re.lastIndex = 0;
  for (const m of t.text.matchAll(re)) {
    matched = true;
    const start = m.index ?? 0;
    const end = start + m[0].length;
    copy(start);
    const replacement = fn(m[0], ...(m.slice(1) as string[]));
    const origStart = t.from ? t.from[start] : start;
    const origEnd = t.to ? t.to[end - 1] : end;
    for (let i = 0; i < replacement.length; i++) {
      from.push(origStart);
      to.push(origEnd);
    }
    text += replacement;
    last = end;
  }
  if (!matched) return t;
  copy(t.text.length);
  return { text, from, to };
}

/**
 * The longest run of non-space characters handed to wink-nlp in one piece. wink's tokenizer peels a run one
 * affix at a time, matching a regex over the rest of the run at each step, so its cost grows with the square of
 * the run's length: a request of a few long runs could hold a serving worker's only thread for seconds (see
 * docs/benchmarks.md, `npm run bench:clean`). Cutting longer runs into pieces of this size bounds the cost per
 * character. 256 is above every run in the training corpora (after markup is stripped: IMDB's longest is 76
 * characters, AG News' 136, a URL), so real text is tokenized exactly as uncut; what gets cut is no word of any
 * language.
 */
export const MAX_RUN_CHARS = 256;

/**
 * What wink-nlp splits raw tokens on (the model's `trex.helpers.splitter`): only these count as space, so
 * U+2028, U+3000 and the like are part of a run and must be bounded too.
 */
const WINK_SPACE = ' \\u00a0\\u2002-\\u2005\\u2009\\u200a\\u202f\\u205f\\n\\r\\t';

const longRuns = new Map<number, RegExp>();
function longRun(maxRunChars: number): RegExp {
  let re = longRuns.get(maxRunChars);
  if (!re) {
    // Tried only where a run starts (the lookbehind): else every position inside a run just under the bound
    // would be scanned again to its end, quadratic in the bound.
    re = new RegExp(`(?<![^${WINK_SPACE}])[^${WINK_SPACE}]{${maxRunChars + 1},}`, 'g');
    longRuns.set(maxRunChars, re);
  }
  return re;
}

/** Cuts every run longer than `maxRunChars` into pieces of at most that many, never inside a surrogate pair. */
export function boundRuns(text: string, maxRunChars: number): string {
  if (!Number.isFinite(maxRunChars)) return text;
  return text.replace(longRun(maxRunChars), (run) => {
    const pieces: string[] = [];
    let start = 0;
    while (start < run.length) {
      let end = Math.min(start + maxRunChars, run.length);
      const code = run.charCodeAt(end);
      if (end < run.length && end - 1 > start && code >= 0xdc00 && code <= 0xdfff) end--;
      pieces.push(run.slice(start, end));
      start = end;
    }
    return pieces.join(' ');
  });
}

export interface CleanerOptions {
  /** Runs of non-space characters longer than this are cut before tokenizing; Infinity: never (benchmarks). */
  maxRunChars?: number;
  /** Replace wink's nlp object after it has read this many distinct tokens (default MAX_DISTINCT_TOKENS). */
  maxDistinctTokens?: number;
  /**
   * Read plain word pieces without wink (word-pieces.ts; default true). Off: wink reads every text whole, the
   * reference the fast path is tested against.
   */
  wordPieces?: boolean;
}

/**
 * A copy of `s` that does not keep its parent string alive: V8 makes substrings of 13+ characters views of the
 * whole text, and a token kept in a vocabulary must not pin the review it was read from.
 */
const detached = (s: string): string => (s.length < 13 ? s : ` ${s}`.slice(1));

/** wink's raw-token splitter (see WINK_SPACE): pieces are what lies between runs of these. */
const WINK_SPACE_RUN = new RegExp(`[${WINK_SPACE}]+`);

/**
 * Builds the one text-cleaning function used by training and by serving, so both see the same tokens.
 * wink-nlp tokenizes (and expands contractions: "didn't" → "did", "not"); the switches in `config` drop
 * markup, URLs, numbers, punctuation and stop words, lemmatize and enforce a minimum token length.
 */
export function createTextCleaner(config: CleanConfig, options: CleanerOptions = {}): TextCleaner {
  const maxRunChars = options.maxRunChars ?? MAX_RUN_CHARS;
  const maxDistinctTokens = options.maxDistinctTokens ?? MAX_DISTINCT_TOKENS;
  const shape = config.lemmatize ? 'pos' : 'tokenize';
  // Built now, so a server pays for the model at start, not on its first request.
  tokenizerFor(shape, maxDistinctTokens);
  /**
   * Appends what one wink token becomes to `out` (nothing, the token, or a possessive's stem and "'s"). Depends on the token alone (its type, form, stop flag), never on its neighbours.
   */
  const cleanToken = (type: string, surface: string, stop: boolean, out: string[]): void => {
    let form = surface;
    if (SPACE_TYPES.has(type)) return;
    if (config.strip_urls && URL_TYPES.has(type)) return;
    if (config.strip_numbers && NUMBER_TYPES.has(type)) return;
    if (
      config.strip_punctuation &&
      PUNCTUATION_TYPES.has(type) &&
      !(config.keep_exclamation && form === '!')
    ) {
      return;
    }
    if (config.lowercase) form = form.toLowerCase();
    form = CONTRACTIONS.get(form.toLowerCase()) ?? form;
    if (stop && !(config.keep_negations && NEGATIONS.has(form.toLowerCase()))) return;
    // wink-nlp splits a possessive ("children's" → "children", "'s") or not depending on what its lexicon has
    // already seen in this process; always splitting keeps tokens independent of history, so training
    // (many workers, many documents) and serving (one text) see the same tokens.
    // Likewise an abbreviation keeps or loses its final period ("t.v." / "t.v"): drop it always.
    // And quotes glued to a word ("'in", "goin'") come and go: strip them from words.
    if (CLITIC_S.test(form)) form = "'s";
    else if (type === 'word' && form.length > 1) {
      form = form.replace(/\.+$/, '').replace(EDGE_QUOTES, '') || form;
    }
    if (config.strip_numbers && NUMERIC.test(form)) return;
    const possessive = POSSESSIVE.exec(form);
    if (possessive) {
      if (possessive[1].length >= config.min_token_length) {
        out.push(possessive[1]);
      }
      form = "'s";
    }
    if (form.length < config.min_token_length) return;
    // Tokens are joined by single spaces downstream (n-gram names, cleaned-text files), so no token may hold
    // whitespace or a control character (U+0085 is whitespace to many splitters).
    if (SPACE_OR_CONTROL.test(form)) {
      form = form.replace(SPACE_OR_CONTROL_ALL, '');
      if (form.length < config.min_token_length) return;
    }
    out.push(form);
  };
  /** Cleans `text` (already stripped of markup); `sources`, when given, gets each output token's wink index. */
  const run = (text: string, sources?: number[]): { out: string[]; forms: string[] } => {
    const { nlp, seen } = tokenizerFor(shape, maxDistinctTokens);
    const its = nlp.its;
    const doc = nlp.readDoc(text);
    const tokens = doc.tokens();
    const types = tokens.out(its.type) as string[];
    // its.value, not its.normal: the normal form also rewrites spellings (mommy/mummy) depending on history.
    const forms = tokens.out(its.value) as string[];
    for (const form of forms) seen.add(form);
    // wink leaves the lemma of a few tokens undefined; those keep their surface form.
    const lemmas = config.lemmatize
      ? (tokens.out(its.lemma as unknown as typeof its.value) as string[])
      : undefined;
    const stopFlags = config.remove_stop_words
      ? (tokens.out(its.stopWordFlag) as unknown as boolean[])
      : undefined;
    const out: string[] = [];
    for (let i = 0; i < forms.length; i++) {
      cleanToken(types[i], lemmas?.[i] ?? forms[i], stopFlags?.[i] ?? false, out);
      if (sources) while (sources.length < out.length) sources.push(i);
    }
    return { out, forms };
  };
  const stripHtml = (text: string) =>
    text.replace(HTML_TAG, ' ').replace(HTML_ENTITY, (_, name: string) => ENTITY_TEXT[name] ?? ' ');
  // Stop-word flags and lemmas come from wink's lexicon and tagger: with either on, wink reads every piece.
  const wordPieces = (options.wordPieces ?? true) && !config.lemmatize && !config.remove_stop_words;
  // What cleanToken makes of a word of ASCII letters (wink's type "word"): of its rules only case applies (the
  // callers check the length), so the word pieces skip the rest.
  const wordToken = (word: string): string => detached(config.lowercase ? word.toLowerCase() : word);
  // What cleanToken makes of each closing mark, by character code (absent: dropped).
  const cleanedMarks = new Map<number, string>();
  for (const mark of CLOSING_MARKS) {
    const out: string[] = [];
    cleanToken('punctuation', mark, false, out);
    if (out.length > 0) cleanedMarks.set(mark.charCodeAt(0), out[0]);
  }
  /**
   * The cleaned tokens of each of `pieces`, read by wink as one document (joined by single spaces: without the
   * tagger wink reads each piece alone, so the pieces of a text need not be adjacent); null when the tokens cannot
   * be told apart by piece (a piece that gives no token), and the text must be read whole.
   */
  const cleanPieces = (pieces: readonly string[]): string[][] | null => {
    const { nlp, seen } = tokenizerFor(shape, maxDistinctTokens);
    const its = nlp.its;
    const tokens = nlp.readDoc(pieces.join(' ')).tokens();
    const types = tokens.out(its.type) as string[];
    const forms = tokens.out(its.value) as string[];
    // The spaces before each token, as text.
    const spaces = tokens.out(its.precedingSpaces) as string[];
    for (const form of forms) seen.add(form);
    // A piece's first token is the one after a space.
    const cleaned: string[][] = [];
    for (let i = 0; i < forms.length; i++) {
      if (i === 0 || spaces[i] !== '') cleaned.push([]);
      cleanToken(types[i], forms[i], false, cleaned[cleaned.length - 1]);
    }
    return cleaned.length === pieces.length ? cleaned : null;
  };
  const clean = (input: string): string[] => {
    const stripped = config.strip_html ? stripHtml(input) : input;
    if (!wordPieces) return run(boundRuns(stripped, maxRunChars)).out;
    // A piece is a whole run of non-space characters, so a long run is cut here, piece by piece, as boundRuns
    // would cut it in the text.
    let pieces = stripped.split(WINK_SPACE_RUN);
    if (pieces.some((piece) => piece.length > maxRunChars))
      pieces = pieces.flatMap((piece) =>
        piece.length > maxRunChars ? boundRuns(piece, maxRunChars).split(' ') : [piece],
      );
    const shapes = new Uint8Array(pieces.length);
    const winkPieces: string[] = [];
    for (let p = 0; p < pieces.length; p++) {
      shapes[p] = wordPieceShape(pieces[p]);
      if (shapes[p] === WINK_PIECE && pieces[p] !== '') winkPieces.push(pieces[p]);
    }
    const fromWink = winkPieces.length > 0 ? cleanPieces(winkPieces) : [];
    if (fromWink === null) return run(boundRuns(stripped, maxRunChars)).out;
    const out: string[] = [];
    let next = 0;
    for (let p = 0; p < pieces.length; p++) {
      const piece = pieces[p];
      if (shapes[p] === ONE_WORD) {
        if (piece.length >= config.min_token_length) out.push(wordToken(piece));
      } else if (shapes[p] === WORD_THEN_MARK) {
        if (piece.length - 1 >= config.min_token_length) out.push(wordToken(piece.slice(0, -1)));
        const mark = cleanedMarks.get(piece.charCodeAt(piece.length - 1));
        if (mark !== undefined) out.push(mark);
      } else if (shapes[p] === LETTER_AND_PERIOD) cleanToken('word', piece, false, out);
      else if (piece !== '') for (const token of fromWink[next++]) out.push(token);
    }
    return out;
  };
  const withSpans = (input: string): CleanedText => {
    let t: TrackedText = { text: input, from: null, to: null };
    if (config.strip_html) {
      t = replaceTracked(t, HTML_TAG, () => ' ');
      t = replaceTracked(t, HTML_ENTITY, (_, name: string) => ENTITY_TEXT[name] ?? ' ');
    }
    if (Number.isFinite(maxRunChars))
      t = replaceTracked(t, longRun(maxRunChars), (r) => boundRuns(r, maxRunChars));
    const sources: number[] = [];
    const { out, forms } = run(t.text, sources);
    // wink's token values are substrings of what it read, in order (checked on IMDB: every one found in place).
    const starts = new Int32Array(forms.length).fill(-1);
    let cursor = 0;
    for (let i = 0; i < forms.length; i++) {
      const at = t.text.indexOf(forms[i], cursor);
      if (at < 0 || forms[i] === '') continue;
      starts[i] = at;
      cursor = at + forms[i].length;
    }
    const spans = new Int32Array(out.length * 2).fill(-1);
    for (let k = 0; k < out.length; k++) {
      const w = sources[k];
      const at = starts[w];
      if (at < 0) continue;
      const end = at + forms[w].length;
      spans[2 * k] = t.from ? t.from[at] : at;
      spans[2 * k + 1] = t.to ? t.to[end - 1] : end;
    }
    return { tokens: out, spans };
  };
  return Object.assign(clean, { withSpans });
}
