/**
 * Inputs that cost wink-nlp time quadratic in their length when handed over whole (20,000 characters each, the
 * serving limit), plus markup-like ones for the regexes that run before it. Letters are drawn at random from
 * `seed`: wink caches every token it has seen, so a benchmark repeating one text would time cache hits, while an
 * attacker sends new text each time.
 */
export function adversarialTexts(seed = 1): Record<string, string> {
  let state = seed >>> 0;
  // mulberry32: a small seeded generator, so tests see the same texts every run.
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = (chars: string) => {
    const list = [...chars];
    return () => list[Math.floor(random() * list.length)];
  };
  const letter = pick('abcdefghijklmnopqrstuvwxyz');
  const script = pick('aбж中文ب١αλ');
  const emoji = pick('😀😂👍🎬🍿⭐💔');
  const repeat = (unit: () => string) => {
    let text = '';
    while (text.length < 20000) text += unit();
    return text.slice(0, 20000);
  };
  return {
    'punctuation run': repeat(() => '!'),
    letters: repeat(letter),
    'letter/punctuation': repeat(() => `${letter()}${letter()}!`),
    'abbreviation-like': repeat(() => `${letter()}.`),
    hyphens: repeat(() => '-'),
    quotes: repeat(() => "'"),
    'long URL': `http://example.com/${repeat(() => `${letter()}${letter()}/`)}`.slice(0, 20000),
    emoji: repeat(emoji),
    'combining marks': repeat(() => `${letter()}\u0301\u0302`),
    'mixed scripts': repeat(script),
    'line separators': repeat(() => `${letter()}\u2028`),
    'ideographic spaces': repeat(() => `\u3000${letter()}`),
    'unclosed tags': repeat(() => `<${letter()}`),
    'spaced punctuation': repeat(() => '! '),
    'made-up words': repeat(() => `${Array.from({ length: 7 }, letter).join('')} `),
    'runs just under the cut': repeat(() => `${Array.from({ length: 256 }, letter).join('')} `),
  };
}
