/**
 * The web page at `GET /`: plain HTML and a small script (served as `/app.js`, so the Content-Security-Policy
 * can forbid inline scripts). Kept as strings in a module so the esbuild bundle carries them; no build step.
 */

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>textops · classify a text</title>
<link rel="icon" href="data:,">
<style>
  :root { --fg: #1d2430; --muted: #5b6678; --line: #d9dee7; --accent: #2f6fdf; --bg: #f6f8fb; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
  main { max-width: 760px; margin: 0 auto; padding: 32px 20px 48px; }
  header { display: flex; align-items: baseline; justify-content: space-between; gap: 12px; flex-wrap: wrap; }
  h1 { font-size: 1.5rem; margin: 0; }
  .version { font-size: .85rem; color: var(--muted); }
  .version strong { color: var(--fg); font-family: ui-monospace, monospace; }
  .card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 20px; margin-top: 20px; }
  label.field { display: block; font-weight: 600; margin-bottom: 8px; }
  textarea { width: 100%; min-height: 140px; padding: 10px 12px; font: inherit; border: 1px solid var(--line); border-radius: 8px; resize: vertical; }
  textarea:focus, input:focus { outline: 2px solid var(--accent); outline-offset: 1px; }
  .row { display: flex; align-items: center; gap: 12px; margin-top: 12px; flex-wrap: wrap; }
  button { font: inherit; border-radius: 8px; cursor: pointer; }
  #classify { background: var(--accent); color: #fff; border: 0; padding: 9px 22px; font-weight: 600; }
  #classify:disabled { opacity: .6; cursor: progress; }
  .hint { color: var(--muted); font-size: .85rem; }
  .examples { display: flex; gap: 8px; flex-wrap: wrap; margin-top: 8px; }
  .example { background: #eef2f9; border: 1px solid var(--line); padding: 6px 10px; font-size: .85rem; text-align: left; max-width: 100%; }
  .example:hover { border-color: var(--accent); }
  .example-label { font-weight: 600; color: var(--accent); margin-right: 4px; }
  #examples-title[hidden], #model-pick[hidden], #model-word[hidden] { display: none; }
  select { font: inherit; padding: 2px 6px; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
  #result[hidden], #error[hidden], #key-row[hidden] { display: none; }
  .verdict { font-size: 1.05rem; }
  #label { font-size: 1.6rem; font-weight: 700; text-transform: capitalize; margin-left: 6px; }
  .bars { margin-top: 14px; display: grid; gap: 10px; }
  .bar { display: grid; grid-template-columns: 110px 1fr 76px; align-items: center; gap: 10px; border-radius: 6px; }
  .bar[role=button] { cursor: pointer; }
  .bar.explained { outline: 1px solid var(--line); outline-offset: 3px; }
  .bar .name { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .bar .track { background: #edf0f5; border-radius: 6px; height: 18px; overflow: hidden; }
  .bar .fill { height: 100%; background: #9aa8bd; border-radius: 6px; transition: width .25s ease; }
  .bar.top .fill { background: var(--accent); }
  .bar .pct { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
  .explain { margin-top: 18px; border-top: 1px solid var(--line); padding-top: 14px; }
  .legend { display: flex; gap: 16px; flex-wrap: wrap; align-items: center; font-size: .85rem; color: var(--muted); }
  .swatch { display: inline-block; width: 14px; height: 14px; border-radius: 3px; vertical-align: -2px; margin-right: 5px; }
  .swatch.pos { background: rgba(22, 163, 74, .55); }
  .swatch.neg { background: rgba(220, 38, 38, .55); }
  .highlight { margin: 10px 0 0; white-space: pre-wrap; line-height: 1.8; overflow-wrap: anywhere; }
  .highlight .w { border-radius: 3px; padding: 1px 0; }
  .features { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; margin-top: 12px; font-size: .85rem; }
  .features h3 { font-size: .85rem; margin: 0 0 4px; color: var(--muted); font-weight: 600; }
  .features ol { margin: 0; padding-left: 20px; }
  .features code { font-family: ui-monospace, monospace; }
  .sum { margin: 0 0 10px; font-size: .9rem; overflow-wrap: anywhere; }
  .sum .part { white-space: nowrap; font-variant-numeric: tabular-nums; }
  .gram.chars .tag { font: 600 .7rem system-ui, sans-serif; color: var(--muted); border: 1px solid var(--line); border-radius: 4px; padding: 0 3px; margin-right: 4px; }
  .gram.chars .around { color: var(--muted); }
  .gram mark { background: #e4ebf7; color: var(--fg); border-radius: 2px; }
  #error { color: #a32020; background: #fdeeee; border: 1px solid #f2c4c4; border-radius: 8px; padding: 10px 12px; margin-top: 14px; }
  input[type=password] { font: inherit; padding: 6px 10px; border: 1px solid var(--line); border-radius: 8px; }
  footer { margin-top: 24px; color: var(--muted); font-size: .85rem; }
  footer a { color: var(--accent); }
</style>
</head>
<body>
<main>
  <header>
    <h1>Classify a text</h1>
    <div class="version"><label id="model-pick" hidden>model <select id="model-select"></select> version</label><span id="model-word">model</span> <strong id="model-version">…</strong></div>
  </header>
  <p class="hint" id="model-status" role="status" hidden></p>
  <section class="card">
    <form id="form">
      <label class="field" for="text">Text</label>
      <textarea id="text" name="text" placeholder="Type or paste a text…" required></textarea>
      <div class="row" id="key-row" hidden>
        <label for="api-key">API key</label>
        <input id="api-key" type="password" autocomplete="off">
      </div>
      <div class="row">
        <button id="classify" type="submit">Classify</button>
        <span class="hint">Ctrl+Enter also works</span>
      </div>
    </form>
    <div class="hint" id="examples-title" style="margin-top:16px" hidden>Examples from the model's test split</div>
    <div class="examples" id="examples"></div>
    <div id="error" role="alert" hidden></div>
  </section>
  <section class="card" id="result" hidden aria-live="polite">
    <div class="verdict">Predicted label <span id="label"></span></div>
    <div class="bars" id="bars"></div>
    <div class="explain" id="explain">
      <p class="sum" id="explain-sum"></p>
      <div class="legend" id="legend"></div>
      <p class="highlight" id="highlight"></p>
      <div class="features">
        <div><h3 id="for-title">For</h3><ol id="top-for"></ol></div>
        <div><h3 id="against-title">Against</h3><ol id="top-against"></ol></div>
      </div>
    </div>
    <div class="hint" style="margin-top:12px">answered by model <span id="answered-by"></span> in <span id="elapsed"></span></div>
  </section>
  <footer>API: <code>POST /predict {"text": "…"}</code> (or <code>/models/&lt;model&gt;/predict</code>) · <a href="/openapi.json">OpenAPI</a> · <a href="/readyz">status</a></footer>
</main>
<script src="/app.js" defer></script>
</body>
</html>
`;

export const PAGE_SCRIPT = `'use strict';
(function () {
  // The served model's examples (GET /examples), and which model they are of: reloaded when another answers.
  var examplesOf = null;
  // The model asked (GET /models lists them when the deployment has several): null asks the default at /predict.
  var chosen = null;
  function route(path) { return chosen ? 'models/' + encodeURIComponent(chosen) + '/' + path : path; }
  var $ = function (id) { return document.getElementById(id); };
  var form = $('form'), text = $('text'), button = $('classify'), errorBox = $('error');

  function showError(message) { errorBox.textContent = message; errorBox.hidden = false; }

  function el(tag, className, content) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (content !== undefined) node.textContent = content;
    return node;
  }

  // As shared/ml/display.ts prints a probability: 100.0 % only when it is exactly 1, 0.0 % only when exactly 0.
  function percent(p) {
    var text = (p * 100).toFixed(1);
    if (text === '100.0' && p < 1) return '>\u00a099.9\u00a0%';
    if (text === '0.0' && p > 0) return '<\u00a00.1\u00a0%';
    return text + '\u00a0%';
  }

  function render(result, ms) {
    $('label').textContent = result.label;
    $('answered-by').textContent = result.modelVersion;
    showModel(result.modelVersion);
    $('elapsed').textContent = ms.toFixed(0) + ' ms';
    var bars = $('bars');
    bars.textContent = '';
    Object.keys(result.scores)
      .sort(function (a, b) { return result.scores[b] - result.scores[a]; })
      .forEach(function (name) {
        var p = result.scores[name];
        var bar = el('div', 'bar' + (name === result.label ? ' top' : ''));
        bar.setAttribute('data-label', name);
        bar.setAttribute('data-probability', String(p));
        var track = el('div', 'track');
        var fill = el('div', 'fill');
        fill.style.width = (p * 100).toFixed(1) + '%';
        track.appendChild(fill);
        bar.appendChild(el('span', 'name', name));
        bar.appendChild(track);
        bar.appendChild(el('span', 'pct', percent(p)));
        if (result.explanation) {
          // Each bar explains its own class on click (or Enter): why it scored as high as it did.
          bar.tabIndex = 0;
          bar.setAttribute('role', 'button');
          bar.title = 'explain ' + name;
          var pick = function () { renderExplanation(result, name); };
          bar.addEventListener('click', pick);
          bar.addEventListener('keydown', function (event) { if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); pick(); } });
        }
        bars.appendChild(bar);
      });
    renderExplanation(result, result.label);
    $('result').hidden = false;
    if (modelKey(result.modelVersion, Object.keys(result.scores)) !== examplesOf) loadExamples();
  }

  var READY_RETRY_SECONDS = 3;

  /** The served version, in the header and on body[data-model] (what scripts and tests wait for). */
  function showModel(version) {
    $('model-version').textContent = version;
    document.body.setAttribute('data-model', version);
  }

  function modelKey(version, labels) { return version + '|' + labels.slice().sort().join('\u0000'); }

  function loadExamples() {
    var headers = {};
    var key = $('api-key').value;
    if (key) headers['X-API-Key'] = key;
    return fetch(route('examples'), { headers: headers }).then(function (r) {
      if (r.status === 401) $('key-row').hidden = false;
      return r.ok ? r.json() : null;
    }).then(function (body) {
      if (!body) return;
      examplesOf = modelKey(body.modelVersion, body.labels);
      var box = $('examples');
      box.textContent = '';
      body.examples.forEach(function (example) {
        var shown = example.text.length > 70 ? example.text.slice(0, 67) + '…' : example.text;
        var b = el('button', 'example');
        b.type = 'button';
        b.title = example.text;
        b.setAttribute('data-label', example.label);
        b.appendChild(el('span', 'example-label', example.label));
        b.appendChild(document.createTextNode(shown));
        b.addEventListener('click', function () { text.value = example.text; classify(); });
        box.appendChild(b);
      });
      $('examples-title').hidden = body.examples.length === 0;
    }).catch(function () {});
  }

  function number(x) { return (x >= 0 ? '+' : '\u2212') + Math.abs(x).toFixed(3); }

  // A character n-gram as the part of the text it was cut from: the word around it, the n-gram marked, its
  // padding (the word's edge) as \u2423; as shared/ml/display.ts does it for the CLI.
  function gramNode(f, text) {
    var code = el('code', 'gram');
    if (f.analyzer !== 'char_wb') { code.textContent = f.feature; return code; }
    code.className = 'gram chars';
    code.appendChild(el('span', 'tag', 'chars'));
    var pad = function (on) { return on ? '\u2423' : ''; };
    if (!f.span || !f.word) {
      code.appendChild(el('mark', null, f.feature.replace(/^ | $/g, '\u2423')));
      return code;
    }
    code.appendChild(el('span', 'around', text.slice(f.word.start, f.span.start)));
    code.appendChild(el('mark', null, pad(f.feature.charAt(0) === ' ') + text.slice(f.span.start, f.span.end) + pad(f.feature.charAt(f.feature.length - 1) === ' ')));
    code.appendChild(el('span', 'around', text.slice(f.span.end, f.word.end)));
    return code;
  }

  // Everything from the text goes in through textContent / text nodes, never as markup.
  function renderExplanation(result, label) {
    var box = $('highlight'), legend = $('legend'), sum = $('explain-sum');
    box.textContent = '';
    legend.textContent = '';
    sum.textContent = '';
    if (!result.explanation) { $('explain').hidden = true; return; }
    $('explain').hidden = false;
    var text = result.text;
    var classes = result.explanation.classes;
    var index = 0;
    for (var i = 0; i < classes.length; i++) if (classes[i].label === label) index = i;
    var score = classes[index];
    Array.prototype.forEach.call($('bars').children, function (bar) {
      var on = bar.getAttribute('data-label') === score.label;
      bar.classList.toggle('explained', on);
      if (bar.hasAttribute('role')) bar.setAttribute('aria-pressed', String(on));
    });
    $('explain').setAttribute('data-label', score.label);

    // The score and its parts, which add up to it.
    var against = score.versus.length === 1 ? score.versus[0] : 'the mean of ' + score.versus.join(', ');
    sum.appendChild(el('strong', null, (score.versus.length === 1 ? 'Log-odds of ' : 'Score of ') + score.label + ' against ' + against + ': '));
    var total = el('span', 'part', score.score.toFixed(3));
    total.setAttribute('data-part', 'score');
    total.setAttribute('data-value', String(score.score));
    sum.appendChild(total);
    [['bias', 'bias'], ['decision', 'decision bias (macro-F1)'], ['word', 'word n-grams'], ['char_wb', 'character n-grams']].forEach(function (part, i) {
      var value = score.parts[part[0]];
      if (value === null || value === undefined) return;
      sum.appendChild(document.createTextNode(i === 0 ? ' = ' : ' '));
      var node = el('span', 'part', (i === 0 ? (value < 0 ? '\u2212' : '') + Math.abs(value).toFixed(3) : number(value).replace(/^([+\u2212])/, '$1 ')) + ' ' + part[1]);
      node.setAttribute('data-part', part[0]);
      node.setAttribute('data-value', String(value));
      sum.appendChild(node);
    });
    var notes = score.versus.length === 1 ? [] : ['the log of its probability over the geometric mean of theirs'];
    if (result.explanation.naiveBayesBlend !== null && result.explanation.naiveBayesBlend !== undefined)
      notes.push('each weight is logistic regression + ' + result.explanation.naiveBayesBlend + ' \u00d7 naive Bayes');
    if (notes.length) sum.appendChild(el('span', 'hint', ' (' + notes.join('; ') + ')'));

    var words = result.explanation.words.map(function (w) {
      return { start: w.start, end: w.end, share: w.contributions[index] };
    });
    var max = words.reduce(function (m, w) { return Math.max(m, Math.abs(w.share)); }, 0) || 1;
    var at = 0;
    words.forEach(function (w) {
      if (w.start < at) return;
      if (w.start > at) box.appendChild(document.createTextNode(text.slice(at, w.start)));
      var span = el('span', 'w ' + (w.share > 0 ? 'pos' : w.share < 0 ? 'neg' : 'zero'), text.slice(w.start, w.end));
      var strength = Math.abs(w.share) / max;
      span.setAttribute('data-contribution', String(w.share));
      span.title = number(w.share) + ' to the score of ' + score.label;
      if (strength > 0.02) {
        var alpha = (0.12 + 0.6 * strength).toFixed(2);
        span.style.backgroundColor = w.share > 0 ? 'rgba(22, 163, 74, ' + alpha + ')' : 'rgba(220, 38, 38, ' + alpha + ')';
      }
      box.appendChild(span);
      at = w.end;
    });
    if (at < text.length) box.appendChild(document.createTextNode(text.slice(at)));

    var pos = el('span', null);
    pos.appendChild(el('span', 'swatch pos'));
    pos.appendChild(document.createTextNode('pushes towards ' + score.label));
    var neg = el('span', null);
    neg.appendChild(el('span', 'swatch neg'));
    neg.appendChild(document.createTextNode('pushes away from ' + score.label));
    legend.appendChild(pos);
    legend.appendChild(neg);
    legend.appendChild(el('span', null, 'deeper shade: larger share of the score (each n-gram split over its words)'));
    if (classes.length > 1) legend.appendChild(el('span', null, 'click a bar to explain its label'));

    $('for-title').textContent = 'n-grams for ' + score.label;
    $('against-title').textContent = 'n-grams against ' + score.label;
    [['top-for', score.positive], ['top-against', score.negative]].forEach(function (pair) {
      var list = $(pair[0]);
      list.textContent = '';
      pair[1].slice(0, 6).forEach(function (f) {
        var item = el('li', null);
        item.setAttribute('data-analyzer', f.analyzer);
        item.setAttribute('data-contribution', String(f.contribution));
        item.appendChild(gramNode(f, text));
        if (f.occurrences > 1) item.appendChild(el('span', 'hint', ' \u00d7' + f.occurrences));
        item.appendChild(document.createTextNode(' ' + number(f.contribution)));
        list.appendChild(item);
      });
    });
  }

  async function classify() {
    errorBox.hidden = true;
    var value = text.value.trim();
    if (!value) { showError('Type a text first.'); return; }
    button.disabled = true;
    var headers = { 'Content-Type': 'application/json' };
    var key = $('api-key').value;
    if (key) headers['X-API-Key'] = key;
    var started = performance.now();
    try {
      var response = await fetch(route('predict'), { method: 'POST', headers: headers, body: JSON.stringify({ text: value, explain: true, top_k: 6 }) });
      var body = await response.json().catch(function () { return {}; });
      if (response.status === 401) { $('key-row').hidden = false; showError(body.detail || 'An API key is required.'); return; }
      if (!response.ok) { showError(body.detail || ('Request failed with status ' + response.status)); return; }
      body.text = value;
      render(body, performance.now() - started);
    } catch (e) {
      showError('The server could not be reached: ' + e.message);
    } finally {
      button.disabled = false;
    }
  }

  form.addEventListener('submit', function (event) { event.preventDefault(); classify(); });
  text.addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) { event.preventDefault(); classify(); }
  });
  $('api-key').addEventListener('change', function () { loadModels(); loadExamples(); });

  // Several models: a switcher filled from GET /models; the page then asks /models/<model>/… of the one chosen.
  function loadModels() {
    var headers = {};
    var key = $('api-key').value;
    if (key) headers['X-API-Key'] = key;
    return fetch('models', { headers: headers, cache: 'no-store' }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (body) {
      if (!body || !body.models || body.models.length < 2) return;
      var select = $('model-select');
      var keep = chosen;
      select.textContent = '';
      body.models.forEach(function (m) {
        var option = el('option', '', m.name + (m.default ? ' (default)' : ''));
        option.value = m.name;
        if (keep ? m.name === keep : m.default) { option.selected = true; chosen = m.name; }
        select.appendChild(option);
      });
      $('model-pick').hidden = false;
      $('model-word').hidden = true;
    }).catch(function () {});
  }
  $('model-select').addEventListener('change', function () {
    chosen = $('model-select').value;
    $('result').hidden = true;
    errorBox.hidden = true;
    examplesOf = null;
    $('model-version').textContent = '…';
    loadExamples().then(function () {
      // The examples answer names the version of the model chosen (loading it when it was not yet).
      if (examplesOf) showModel(examplesOf.split('|')[0]);
    });
  });
  // A server can answer before it serves a model: started before the first promotion, or asked in the seconds
  // between a promotion and its next look at the registry. The page says why, and looks again until one is served.
  function checkReady() {
    fetch('readyz', { cache: 'no-store' }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (answer) {
      if (answer.ok && answer.body.modelVersion) {
        showModel(answer.body.modelVersion);
        $('model-status').hidden = true;
        loadExamples();
        loadModels();
        return;
      }
      $('model-version').textContent = 'none loaded yet';
      $('model-status').textContent = ((answer.body && answer.body.detail) || 'The server serves no model yet.') +
        ' This page looks again every ' + READY_RETRY_SECONDS + ' s.';
      $('model-status').hidden = false;
      setTimeout(checkReady, READY_RETRY_SECONDS * 1000);
    }).catch(function () {
      $('model-version').textContent = 'unavailable';
      setTimeout(checkReady, READY_RETRY_SECONDS * 1000);
    });
  }
  checkReady();
})();
`;
