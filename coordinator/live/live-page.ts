// The live page: one self-contained HTML document (inline CSS, JS and SVG, nothing fetched but
// its own event stream) showing a sweep's progress and, per level of an axis, the median and
// IQR of a probe against epoch, redrawn on every server-sent snapshot.

const STYLE = `
body{font:14px system-ui,sans-serif;margin:16px 24px;color:#222;background:#fafafa}
h1{font-size:18px;margin:0 0 8px}
.row{display:flex;gap:16px;align-items:center;flex-wrap:wrap;margin:8px 0}
label{color:#555}
select{font:inherit;padding:2px 4px}
.bar{position:relative;height:18px;width:420px;background:#e4e4e4;border-radius:3px;overflow:hidden}
.bar>div{position:absolute;top:0;bottom:0;left:0;background:#3b7dd8}
.bar.small{width:160px;height:10px}
.muted{color:#777}
table{border-collapse:collapse;margin-top:8px}
td,th{padding:2px 10px;text-align:right}
th{font-weight:600;color:#555}
svg{background:#fff;border:1px solid #ddd}
.dot{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
`;

// Runs in the browser. Plain ES2017, string concatenation only, so the TypeScript template
// around it needs no escaping.
const SCRIPT = `
(function () {
  var COLORS = ['#1f77b4','#d62728','#2ca02c','#ff7f0e','#9467bd','#8c564b','#e377c2','#17becf','#7f7f7f','#bcbd22'];
  var params = new URLSearchParams(location.search);
  var source = null;
  var $ = function (id) { return document.getElementById(id); };
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); }
  function fmt(v) { return Math.abs(v) >= 100 || v === 0 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3); }
  function optionList(values, chosen) {
    return values.map(function (v) { return '<option' + (v === chosen ? ' selected' : '') + '>' + esc(v) + '</option>'; }).join('');
  }
  function options(sel, values, chosen) {
    var html = optionList(values, chosen);
    if (sel.innerHTML !== html) sel.innerHTML = html;
  }
  // The probes, then the trainers' own scalars (when the sweep has any) in a group of their own.
  function probeOptions(sel, probes, scalars, chosen) {
    var html = scalars.length === 0 ? optionList(probes, chosen) :
      '<optgroup label="probes">' + optionList(probes, chosen) + '</optgroup>' +
      '<optgroup label="user scalars">' + optionList(scalars, chosen) + '</optgroup>';
    if (sel.innerHTML !== html) sel.innerHTML = html;
  }
  function connect() {
    if (source) source.close();
    history.replaceState(null, '', '?' + params.toString());
    source = new EventSource('live/stream?' + params.toString());
    source.onmessage = function (m) { render(JSON.parse(m.data)); };
    source.onerror = function () { $('conn').textContent = 'reconnecting…'; };
    source.onopen = function () { $('conn').textContent = 'live'; };
  }
  ['sweep', 'axis', 'probe'].forEach(function (name) {
    $(name).addEventListener('change', function (e) { params.set(name, e.target.value); connect(); });
  });
  function chart(s) {
    var W = 760, H = 340, L = 56, R = 16, T = 12, B = 36;
    var pts = [];
    s.levels.forEach(function (l) { l.curve.forEach(function (p) { pts.push(p); }); });
    if (pts.length === 0) {
      return '<svg id="chart" width="' + W + '" height="' + H + '"><text x="' + (W / 2) + '" y="' + (H / 2) + '" text-anchor="middle" fill="#777">' +
        (s.has_curves ? 'waiting for probe events…' : 'no probe events reach this coordinator: start it with --live-curves, or see Grafana') + '</text></svg>';
    }
    var x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    pts.forEach(function (p) { x0 = Math.min(x0, p[0]); x1 = Math.max(x1, p[0]); y0 = Math.min(y0, p[1]); y1 = Math.max(y1, p[3]); });
    if (x1 === x0) x1 = x0 + 1;
    if (y1 === y0) { y1 += 0.5; y0 -= 0.5; }
    var pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
    var X = function (v) { return (L + (v - x0) / (x1 - x0) * (W - L - R)).toFixed(1); };
    var Y = function (v) { return (T + (1 - (v - y0) / (y1 - y0)) * (H - T - B)).toFixed(1); };
    var out = '<svg id="chart" width="' + W + '" height="' + H + '" viewBox="0 0 ' + W + ' ' + H + '">';
    for (var i = 0; i <= 4; i++) {
      var yv = y0 + (y1 - y0) * i / 4, xv = x0 + (x1 - x0) * i / 4;
      out += '<line x1="' + L + '" x2="' + (W - R) + '" y1="' + Y(yv) + '" y2="' + Y(yv) + '" stroke="#eee"/>';
      out += '<text x="' + (L - 6) + '" y="' + Y(yv) + '" dy="4" text-anchor="end" font-size="11" fill="#555">' + fmt(yv) + '</text>';
      out += '<text x="' + X(xv) + '" y="' + (H - B + 16) + '" text-anchor="middle" font-size="11" fill="#555">' + Math.round(xv) + '</text>';
    }
    out += '<text x="' + (W / 2) + '" y="' + (H - 4) + '" text-anchor="middle" font-size="12" fill="#333">epoch</text>';
    s.levels.forEach(function (l, k) {
      if (l.curve.length === 0) return;
      var c = COLORS[k % COLORS.length];
      var upper = l.curve.map(function (p) { return X(p[0]) + ',' + Y(p[3]); });
      var lower = l.curve.slice().reverse().map(function (p) { return X(p[0]) + ',' + Y(p[1]); });
      out += '<polygon class="iqr" points="' + upper.concat(lower).join(' ') + '" fill="' + c + '" fill-opacity="0.15" stroke="none"/>';
      out += '<polyline class="curve" data-level="' + esc(l.level) + '" data-last-epoch="' + l.curve[l.curve.length - 1][0] + '" points="' + l.curve.map(function (p) { return X(p[0]) + ',' + Y(p[2]); }).join(' ') +
        '" fill="none" stroke="' + c + '" stroke-width="2"/>';
    });
    return out + '</svg>';
  }
  function render(s) {
    options($('sweep'), s.sweeps.map(function (x) { return x.id; }), s.sweep);
    options($('axis'), s.axes, s.axis);
    probeOptions($('probe'), s.probes, s.scalars || [], s.probe);
    var frac = s.epochs_total > 0 ? s.epochs_done / s.epochs_total : 0;
    $('progress').style.width = (100 * frac).toFixed(1) + '%';
    $('summary').textContent = s.sweep === '' ? 'no sweep submitted yet' :
      s.state + ' · epochs ' + s.epochs_done + '/' + s.epochs_total + ' (' + (100 * frac).toFixed(1) + '%) · ' +
      Object.keys(s.by_state).filter(function (k) { return s.by_state[k] > 0; }).map(function (k) { return s.by_state[k] + ' ' + k; }).join(', ') +
      ' · ' + s.workers + ' workers';
    $('plot').innerHTML = chart(s);
    $('title').textContent = s.probe + ' by epoch, median and IQR per ' + (s.axis || 'trial group');
    $('levels').innerHTML = '<tr><th style="text-align:left">' + esc(s.axis || 'level') + '</th><th>trials</th><th>epochs</th><th></th><th>last median</th></tr>' +
      s.levels.map(function (l, k) {
        var f = l.epochs_total > 0 ? l.epochs_done / l.epochs_total : 0;
        var last = l.curve.length ? fmt(l.curve[l.curve.length - 1][2]) : '–';
        return '<tr><td style="text-align:left"><span class="dot" style="background:' + COLORS[k % COLORS.length] + '"></span>' + esc(l.level) + '</td><td>' + l.trials +
          '</td><td>' + l.epochs_done + '/' + l.epochs_total + '</td><td><div class="bar small"><div style="width:' + (100 * f).toFixed(1) + '%"></div></div></td><td>' + last + '</td></tr>';
      }).join('');
  }
  connect();
})();
`;

export function livePageHtml(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>phasesweep live</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<link rel="icon" href="data:,">
<style>${STYLE}</style></head>
<body>
<h1>phasesweep live <span id="conn" class="muted" style="font-size:12px">connecting…</span></h1>
<div class="row">
  <label>sweep <select id="sweep"></select></label>
  <label>axis <select id="axis"></select></label>
  <label>probe <select id="probe"></select></label>
</div>
<div class="row"><div class="bar"><div id="progress" style="width:0"></div></div><span id="summary" class="muted"></span></div>
<h2 id="title" style="font-size:15px;margin:12px 0 4px"></h2>
<div id="plot"></div>
<table id="levels"></table>
<script>${SCRIPT}</script>
</body></html>
`;
}
