// What the node benches share: their command line (--parley PATH, --set
// KEY=VALUE passed on to parley, --NAME VALUE) and percentiles.
export const argv = process.argv.slice(2);

export function arg(name, dflt) {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
}

// The --set pairs, as parley's command line takes them.
export const sets = argv.flatMap((a, i) => (a === '--set' ? ['--set', argv[i + 1]] : []));

// --parley PATH: the binary the e2e helpers start (set before they run).
if (arg('--parley')) process.env.PARLEY_BIN = arg('--parley');

// What the simulated users ask (2.2-3.0 s each in flite's voices).
export const QUESTIONS = [
  'What is the weather like today?',
  'Tell me a joke about computers.',
  'What time is it in London?',
  'How many minutes are in one hour?',
  'Turn on the kitchen lights.',
  'What is the capital of France?',
];

// The p-th percentile (nearest rank); NaN for no values.
export function pct(xs, p) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
