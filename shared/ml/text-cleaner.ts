import model from 'wink-eng-lite-web-model';
import winkNLP, { type WinkMethods } from 'wink-nlp';
import type { CleanConfig } from '../config/params.ts';

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

// Building an nlp object loads the language model (~100 ms): one per pipeline shape per process, built on
// first use so a server that never lemmatizes does not pay for the POS tagger at cold start.
const nlpByShape = new Map<'tokenize' | 'pos', WinkMethods>();
function nlpFor(shape: 'tokenize' | 'pos'): WinkMethods {
  let nlp = nlpByShape.get(shape);
  if (!nlp) {
    nlp = winkNLP(model, shape === 'pos' ? ['pos'] : []);
    nlpByShape.set(shape, nlp);
  }
  return nlp;
}

export type TextCleaner = (text: string) => string[];

/**
 * Builds the one text-cleaning function used by training and by serving, so both see the same tokens.
 * wink-nlp tokenizes (and expands contractions: "didn't" → "did", "not"); the switches in `config` drop
 * markup, URLs, numbers, punctuation and stop words, lemmatize and enforce a minimum token length.
 */
export function createTextCleaner(config: CleanConfig): TextCleaner {
  const nlp = nlpFor(config.lemmatize ? 'pos' : 'tokenize');
  const its = nlp.its;
  return (input: string): string[] => {
    let text = input;
    if (config.strip_html) {
      text = text.replace(HTML_TAG, ' ').replace(HTML_ENTITY, (_, name: string) => ENTITY_TEXT[name] ?? ' ');
    }
    const doc = nlp.readDoc(text);
    const tokens = doc.tokens();
    const types = tokens.out(its.type) as string[];
    // its.value, not its.normal: the normal form also rewrites spellings (mommy/mummy) depending on history.
    const forms = tokens.out(its.value) as string[];
    // wink leaves the lemma of a few tokens undefined; those keep their surface form.
    const lemmas = config.lemmatize
      ? (tokens.out(its.lemma as unknown as typeof its.value) as string[])
      : undefined;
    const stopFlags = config.remove_stop_words
      ? (tokens.out(its.stopWordFlag) as unknown as boolean[])
      : undefined;
    const out: string[] = [];
    for (let i = 0; i < forms.length; i++) {
      const type = types[i];
      let form = lemmas?.[i] ?? forms[i];
      if (SPACE_TYPES.has(type)) continue;
      if (config.strip_urls && URL_TYPES.has(type)) continue;
      if (config.strip_numbers && NUMBER_TYPES.has(type)) continue;
      if (
        config.strip_punctuation &&
        PUNCTUATION_TYPES.has(type) &&
        !(config.keep_exclamation && form === '!')
      ) {
        continue;
      }
      if (config.lowercase) form = form.toLowerCase();
      form = CONTRACTIONS.get(form.toLowerCase()) ?? form;
      if (stopFlags?.[i] && !(config.keep_negations && NEGATIONS.has(form.toLowerCase()))) continue;
      // wink-nlp splits a possessive ("children's" → "children", "'s") or not depending on what its lexicon has
      // already seen in this process; always splitting keeps tokens independent of history, so training
      // (many workers, many documents) and serving (one text) see the same tokens.
      // Likewise an abbreviation keeps or loses its final period ("t.v." / "t.v"): drop it always.
      // And quotes glued to a word ("'in", "goin'") come and go: strip them from words.
      if (CLITIC_S.test(form)) form = "'s";
      else if (type === 'word' && form.length > 1) {
        form = form.replace(/\.+$/, '').replace(EDGE_QUOTES, '') || form;
      }
      if (config.strip_numbers && NUMERIC.test(form)) continue;
      const possessive = POSSESSIVE.exec(form);
      if (possessive) {
        if (possessive[1].length >= config.min_token_length) out.push(possessive[1]);
        form = "'s";
      }
      if (form.length < config.min_token_length) continue;
      // Tokens are joined by single spaces downstream (n-gram names, cleaned-text files), so no token may hold
      // whitespace or a control character (U+0085 is whitespace to many splitters).
      if (SPACE_OR_CONTROL.test(form)) {
        form = form.replace(SPACE_OR_CONTROL_ALL, '');
        if (form.length < config.min_token_length) continue;
      }
      out.push(form);
    }
    return out;
  };
}
