// Draws ratios to ws as an SVG bar chart: a group per scenario, a bar per server, a line at 1x (ws).
// Bars use a log scale, so 0.5x and 2x are as far from ws on either side.

const COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b07aa1'];

function escape(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * @param {string[]} scenarios columns
 * @param {string[]} servers bars in each group (ws, the baseline, left out)
 * @param {(server: string, scenario: string) => number | null} ratio
 * @returns {string} the SVG document
 */
export function chart(scenarios, servers, ratio) {
  const values = scenarios.flatMap((s) => servers.map((n) => ratio(n, s))).filter((v) => v !== null && v > 0);
  const top = Math.max(2, ...values);
  const bottom = Math.min(0.5, ...values);
  const lo = Math.log10(bottom);
  const hi = Math.log10(top);
  const width = 860;
  const height = 380;
  const left = 60;
  const plotTop = 30;
  const plotBottom = height - 90;
  const y = (v) => plotBottom - ((Math.log10(v) - lo) / (hi - lo)) * (plotBottom - plotTop);
  const group = (width - left - 20) / scenarios.length;
  const bar = Math.min(28, (group - 16) / Math.max(1, servers.length));
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${left}" y="18" font-size="14">Throughput relative to ws (log scale; idle: memory per connection, ws's over ours)</text>`,
  ];
  for (const tick of [0.1, 0.25, 0.5, 1, 2, 4, 10, 25, 50, 100]) {
    if (tick < bottom * 0.99 || tick > top * 1.01) continue;
    out.push(
      `<line x1="${left}" x2="${width - 20}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" stroke="${tick === 1 ? '#333' : '#ddd'}" stroke-width="${tick === 1 ? 1.5 : 1}"/>`,
    );
    out.push(`<text x="${left - 6}" y="${(y(tick) + 4).toFixed(1)}" text-anchor="end">${tick}x</text>`);
  }
  scenarios.forEach((s, g) => {
    const x0 = left + g * group + (group - bar * servers.length) / 2;
    servers.forEach((n, i) => {
      const v = ratio(n, s);
      if (v === null || !(v > 0)) return;
      const x = x0 + i * bar;
      const y1 = Math.min(y(v), y(1));
      const h = Math.abs(y(v) - y(1));
      out.push(
        `<rect x="${x.toFixed(1)}" y="${y1.toFixed(1)}" width="${(bar - 3).toFixed(1)}" height="${Math.max(1, h).toFixed(1)}" fill="${COLORS[i % COLORS.length]}"><title>${escape(n)}, ${escape(s)}: ${v.toFixed(2)}x ws</title></rect>`,
      );
    });
    out.push(
      `<text x="${(left + g * group + group / 2).toFixed(1)}" y="${plotBottom + 18}" text-anchor="middle">${escape(s)}</text>`,
    );
  });
  servers.forEach((n, i) => {
    const x = left + i * 190;
    out.push(`<rect x="${x}" y="${height - 40}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`);
    out.push(`<text x="${x + 18}" y="${height - 30}">${escape(n)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
