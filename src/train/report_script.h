// The report's only script, inline: hovering over a line chart draws a guide line and lists each
// curve's value at the nearest recorded x. It reads the data-* attributes train/report_chart.cpp
// writes, builds its text with textContent (labels are user strings), and loads nothing: the page
// stays self-contained and works, without the readout, where scripts are off.
#pragma once

namespace mixtrain::train::report_chart {

inline constexpr const char* kHoverScript = R"JS(
(function () {
  var tip = document.createElement('div');
  tip.className = 'readout';
  tip.style.display = 'none';
  document.body.appendChild(tip);
  function points(p) {
    if (!p._pts) {
      p._pts = (p.getAttribute('data-pts') || '').trim().split(' ').filter(Boolean).map(function (s) {
        var a = s.split(',');
        return [Number(a[0]), Number(a[1])];
      });
    }
    return p._pts;
  }
  function nearest(a, x) {
    if (a.length === 0) return null;
    var lo = 0, hi = a.length - 1;
    while (hi - lo > 1) {
      var m = (lo + hi) >> 1;
      if (a[m][0] < x) lo = m; else hi = m;
    }
    return Math.abs(a[lo][0] - x) <= Math.abs(a[hi][0] - x) ? a[lo] : a[hi];
  }
  function fmt(v) { return Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : String(Number(v.toPrecision(5))); }
  document.querySelectorAll('svg.chart[data-x0]').forEach(function (svg) {
    var d = svg.dataset, x0 = Number(d.x0), x1 = Number(d.x1), left = Number(d.left), right = Number(d.right);
    var guide = document.createElementNS(svg.namespaceURI, 'line');
    guide.setAttribute('y1', d.top);
    guide.setAttribute('y2', d.bottom);
    guide.setAttribute('stroke', '#333');
    guide.setAttribute('stroke-dasharray', '3,3');
    guide.style.display = 'none';
    svg.appendChild(guide);
    function hide() { tip.style.display = 'none'; guide.style.display = 'none'; }
    svg.addEventListener('mouseleave', hide);
    svg.addEventListener('mousemove', function (ev) {
      var box = svg.getBoundingClientRect();
      var vx = (ev.clientX - box.left) / box.width * svg.viewBox.baseVal.width;
      if (vx < left || vx > right) { hide(); return; }
      var x = x0 + (vx - left) / (right - left) * (x1 - x0);
      var rows = [], at = null;
      svg.querySelectorAll('path.series').forEach(function (p) {
        var q = nearest(points(p), x);
        if (!q) return;
        if (at === null || Math.abs(q[0] - x) < Math.abs(at - x)) at = q[0];
        rows.push([p.getAttribute('data-label'), q, p.getAttribute('stroke')]);
      });
      if (at === null) { hide(); return; }
      var gx = left + (at - x0) / (x1 - x0) * (right - left);
      guide.setAttribute('x1', gx);
      guide.setAttribute('x2', gx);
      guide.style.display = '';
      tip.textContent = '';
      var head = document.createElement('div');
      head.textContent = d.xtitle + ' ' + fmt(at);
      tip.appendChild(head);
      rows.forEach(function (r) {
        var line = document.createElement('div');
        line.style.color = r[2];
        line.textContent = r[0] + ': ' + fmt(r[1][1]) + (r[1][0] !== at ? ' (at ' + fmt(r[1][0]) + ')' : '');
        tip.appendChild(line);
      });
      tip.style.left = (ev.pageX + 14) + 'px';
      tip.style.top = (ev.pageY + 14) + 'px';
      tip.style.display = 'block';
    });
  });
})();
)JS";

}  // namespace mixtrain::train::report_chart
