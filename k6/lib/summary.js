// End-of-run verdict of a drill: each threshold (= one criterion) with its measured value and ✓/✗, then the checks.
// Replaces k6's default summary (handleSummary does that by design); the web dashboard report keeps every graph.
// SUMMARY_JSON=path also writes k6's full summary object there. Doc: k6/README.md#reading-the-result
//
// Usage in a drill:  const summary = drillSummary('timeouts-cascade');  export function handleSummary(d) { return summary(d); }

/** Trend stats the summary keeps; a p(99) threshold can only show its value when p(99) is listed here. */
export const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'];

const AGGREGATE = /^\s*(count|rate|avg|min|max|med|value|p\(\s*[0-9.]+\s*\))\s*(<=|>=|===|==|!=|<|>)/;

function formatValue(metric, aggregate, value) {
  if (typeof value !== 'number' || Number.isNaN(value)) return 'no data';
  if (aggregate === 'rate' && metric.type === 'rate') return `${(value * 100).toFixed(2)}%`;
  if (aggregate === 'count') return String(Math.round(value));
  if (metric.contains === 'time') return `${value.toFixed(1)}ms`;
  return String(Math.round(value * 1000) / 1000);
}

function thresholdLines(data) {
  const lines = [];
  let failed = 0;
  Object.keys(data.metrics || {})
    .sort()
    .forEach((key) => {
      const metric = data.metrics[key];
      const thresholds = metric.thresholds || {};
      Object.keys(thresholds).forEach((expression) => {
        const ok = thresholds[expression].ok !== false;
        if (!ok) failed += 1;
        const match = AGGREGATE.exec(expression);
        const aggregate = match ? match[1].replace(/\s+/g, '') : null;
        const value = aggregate && metric.values ? metric.values[aggregate] : undefined;
        const shown = aggregate ? ` ${aggregate}=${formatValue(metric, aggregate, value)}` : '';
        lines.push(`  ${ok ? '✓' : '✗'} ${key} '${expression}'${shown}`);
      });
    });
  return { lines, failed, total: lines.length };
}

function checkLines(group, out) {
  (group.checks || []).forEach((c) => {
    out.push(`  ${c.fails === 0 ? '✓' : '✗'} ${c.path || c.name}: ${c.passes} passed, ${c.fails} failed`);
  });
  (group.groups || []).forEach((g) => checkLines(g, out));
  return out;
}

function reportLines(data, names) {
  const lines = [];
  names.forEach((key) => {
    const metric = (data.metrics || {})[key];
    if (!metric || !metric.values) {
      lines.push(`  ${key}: no data`);
      return;
    }
    const shown = Object.keys(metric.values)
      .filter((a) => a !== 'passes' && a !== 'fails' && !(metric.type === 'counter' && a === 'rate'))
      .map((a) => `${a}=${formatValue(metric, a, metric.values[a])}`);
    lines.push(`  ${key}: ${shown.join(' ')}`);
  });
  return lines;
}

/**
 * Returns a handleSummary(data) for the drill called `name`.
 * options.report: metric keys (sub-metrics included) printed with all their values, judged or not.
 */
export function drillSummary(name, options) {
  const report = (options && options.report) || [];
  return function handleSummary(data) {
    const thresholds = thresholdLines(data);
    const verdict = thresholds.failed === 0 ? 'PASSED' : `FAILED (${thresholds.failed} of ${thresholds.total} criteria)`;
    const seconds = data.state && data.state.testRunDurationMs ? (data.state.testRunDurationMs / 1000).toFixed(1) : '?';
    const text = [
      '',
      `ReliableShop drill ${name}: ${verdict} in ${seconds} s`,
      '',
      'Criteria (thresholds):',
      ...(thresholds.lines.length > 0 ? thresholds.lines : ['  (none)']),
      '',
      'Checks:',
      ...checkLines(data.root_group || {}, []),
      '',
      ...(report.length > 0 ? ['Measured:', ...reportLines(data, report), ''] : []),
    ].join('\n');
    const outputs = { stdout: text };
    if (__ENV.SUMMARY_JSON) outputs[__ENV.SUMMARY_JSON] = JSON.stringify(data, null, 2);
    return outputs;
  };
}
