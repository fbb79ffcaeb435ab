/**
 * `npm run bench [-- options]`: runs every scenario against this server and the peers, side by
 * side on this machine, prints the table, and writes bench/results/latest.json, .md
 * and .svg (latest-quick.* or latest-partial.* for a quick or partial run).
 *
 *   --quick             small sizes, about a minute
 *   --only a,b          only these scenarios (fan-out, many-rooms, idle, cold-load, bandwidth, crash, ceiling, scale-out)
 *   --servers a,b       only these servers (ours, ours-fsync, y-websocket, hocuspocus, hocuspocus-4, floor)
 *   --seed N            replay a run's random choices (printed at the start of every run)
 *   --no-build          do not run `npm run build` first
 *   --keep              keep the data directories (under the OS temp dir)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fullConfig, quickConfig } from './config.js';
import { LoadGenerator } from './loadgen/client.js';
import { benchCores, machineDescription, openFileLimit, pinSelf } from './proc.js';
import { newSeed } from './random.js';
import { renderChart } from './report/chart.js';
import { compare, renderTable } from './report/table.js';
import { bandwidth } from './scenarios/bandwidth.js';
import { ceiling } from './scenarios/ceiling.js';
import { coldLoad } from './scenarios/cold-load.js';
import { crash } from './scenarios/crash.js';
import { fanOut } from './scenarios/fan-out.js';
import { idle } from './scenarios/idle.js';
import { manyRooms } from './scenarios/many-rooms.js';
import { scaleOut } from './scenarios/scale-out.js';
import { combineRounds, type Scenario, type ScenarioOutcome } from './scenarios/scenario.js';
import { allServers, repoRoot, ServerProcess, serverSpecs, type ServerName } from './servers.js';
import { stopBenchServices } from './services.js';
import { removeQuotas } from './cpu-quota.js';

const scenarios: Scenario[] = [fanOut, manyRooms, idle, coldLoad, bandwidth, crash, ceiling, scaleOut];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    servers: { type: 'string' },
    seed: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log(`npm run bench [-- options]

Runs every scenario against this server and the peer servers, side by side on this machine, prints
one table, writes the raw results to bench/results/latest.json, the table to latest.md and a chart
to latest.svg (latest-quick.* for --quick, latest-partial.* for a run with --only or --servers).

  --quick             small sizes, about a minute
  --only a,b          only these scenarios: ${scenarios.map((s) => s.name).join(', ')}
  --servers a,b       only these servers: ${allServers.join(', ')}
  --seed N            replay a run's random choices (printed at the start of every run)
  --no-build          do not run \`npm run build\` first
  --keep              keep the data directories (under the OS temp dir)
  -h, --help          this text`);
  process.exit(0);
}

const log = (line: string): void => console.log(line);
const config = values.quick ? quickConfig : fullConfig;
const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : newSeed();
const defaultServers: ServerName[] = values.quick ? ['ours', 'y-websocket', 'hocuspocus', 'hocuspocus-4'] : allServers;
let serverNames = (values.servers?.split(',') ?? defaultServers) as ServerName[];
const selected = values.only === undefined ? scenarios : scenarios.filter((s) => values.only!.split(',').includes(s.name));
for (const name of serverNames) if (!(name in serverSpecs)) throw new RangeError(`unknown server ${name}; known: ${allServers.join(', ')}`);

const cores = benchCores();
pinSelf(cores.load);
const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
log(`${command}: ${config.mode} mode, seed ${seed} (replay with --seed ${seed})`);
log(`servers: ${serverNames.map((name) => serverSpecs[name].label).join(', ')}; scenarios: ${selected.map((s) => s.name).join(', ')}`);
log(`cores: server ${cores.server}, load generator ${cores.load}; open-file limit ${openFileLimit()}`);
const loadBefore = loadavg()[0]!;
if (loadBefore > 0.5) log(`! load average ${loadBefore.toFixed(2)}: other processes are busy, figures will be noisy`);

if (serverNames.some((name) => serverSpecs[name].role !== 'peer')) {
  if (!values['no-build']) {
    log('building the server (npm run build)...');
    const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: repoRoot, stdio: 'inherit' });
    if (build.status !== 0) log('! npm run build failed');
  }
  if (!existsSync(join(repoRoot, 'dist', 'server', 'main.js'))) {
    log('! dist/server/main.js is missing: running the peers only');
    serverNames = serverNames.filter((name) => serverSpecs[name].role === 'peer');
  }
}
const specs = serverNames.map((name) => serverSpecs[name]);
const idleNeeds = config.idle.docs * config.idle.connectionsPerDoc + 1000;
if (openFileLimit() < idleNeeds) log(`! open-file limit ${openFileLimit()} is below the ${idleNeeds} the idle scenario needs: raise it with ulimit -n`);

const workDir = join(tmpdir(), `collab-bench-${process.pid}`);
mkdirSync(workDir, { recursive: true });
const loadgen = await LoadGenerator.start(cores.load, log);

/** Stops every process the run started and removes what it made; synchronous, so a SIGINT handler can run it. */
const stopEverything = (): void => {
  for (const server of ServerProcess.live) void server.kill();
  loadgen.stop();
  stopBenchServices(values.keep);
  removeQuotas();
  if (!values.keep) rmSync(workDir, { recursive: true, force: true });
};
process.once('SIGINT', () => {
  stopEverything();
  process.exit(130);
});

const started = Date.now();
const outcomes: ScenarioOutcome[] = [];
for (const [i, scenario] of selected.entries()) {
  const rounds = config.rounds[scenario.name] ?? 1;
  const runners = specs.filter((spec) => (spec.scenarios === undefined || spec.scenarios.includes(scenario.name)) && (scenario.supports?.(spec) ?? true));
  const byServer = new Map<string, ScenarioOutcome[]>(runners.map((spec) => [spec.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const spec of runners) {
      const roundLabel = rounds > 1 ? `, round ${round + 1} of ${rounds}` : '';
      log(`\n[${scenario.name}] ${spec.label}${roundLabel} (${Math.round((Date.now() - started) / 1000)} s into the run)`);
      // The same seed for every server within a round: the same keystrokes, the same kill times.
      const scenarioSeed = (seed + (i + 1) * 7919 + round * 104_729) >>> 0;
      let result: ScenarioOutcome;
      try {
        result = await scenario.run({ config, loadgen, cores, seed: scenarioSeed, workDir, keep: values.keep, log }, spec);
        const summary = result.figures.map((f) => `${f.label} ${f.value.toFixed(2)} ${f.unit}`).join(', ');
        log(`  => ${result.ok ? 'ok' : 'FAILED'}: ${summary}${result.failures.length > 0 ? `; ${result.failures.join('; ')}` : ''}`);
        for (const note of result.notes) log(`     ${note}`);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        log(`  => ERROR: ${message}`);
        result = {
          scenario: scenario.name,
          server: spec.name,
          label: spec.label,
          ok: false,
          failures: [`error: ${message.split('\n')[0]}`],
          figures: [],
          notes: [],
          raw: { error: message },
        };
      }
      byServer.get(spec.name)!.push(result);
    }
  }
  for (const spec of runners) {
    const combined = combineRounds(byServer.get(spec.name)!);
    outcomes.push(combined);
    if (rounds > 1) log(`\n[${scenario.name}] ${spec.label}: ${combined.notes[0]}`);
  }
}
stopEverything();

const rows = compare(outcomes, specs);
const table = renderTable(rows, specs, outcomes);
const machine = machineDescription();
const date = new Date();
const machineLine = `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Linux ${machine.kernel}, Node ${machine.node}${machine.taskset ? ', server and load generator pinned to separate cores' : ''}`;
log(`\n${table}\n`);
log(`machine: ${machineLine}`);

const resultsDir = join(repoRoot, 'bench', 'results');
mkdirSync(resultsDir, { recursive: true });
// Only a complete full run replaces the results the README shows; quick and partial runs write their own.
const partial = values.only !== undefined || values.servers !== undefined;
const latest = partial ? 'latest-partial' : config.mode === 'quick' ? 'latest-quick' : 'latest';
const resultsFile = join(resultsDir, `${latest}.json`);
const results = {
  date: date.toISOString(),
  command,
  mode: config.mode,
  seed,
  durationSeconds: Math.round((Date.now() - started) / 1000),
  machine,
  /** One-minute load average before and after the run: high values mean other work disturbed it. */
  loadAverage: { before: loadBefore, after: loadavg()[0]! },
  servers: specs.map((spec) => ({ name: spec.name, label: spec.label, version: spec.version })),
  config,
  table,
  outcomes,
};
writeFileSync(resultsFile, `${JSON.stringify(results, null, 1)}\n`);
const busy = loadBefore > 0.5 ? ` · load average ${loadBefore.toFixed(1)} at start: other work on the machine, figures noisy` : '';
const caption = [`${command} · ${config.mode} mode · seed ${seed} · ${date.toISOString().slice(0, 16).replace('T', ' ')} UTC${busy}`, machineLine];
writeFileSync(join(resultsDir, `${latest}.svg`), renderChart(rows, specs, caption));
const notes = outcomes.flatMap((o) => o.notes.map((note) => `- ${o.scenario} / ${o.label}: ${note}`));
writeFileSync(join(resultsDir, `${latest}.md`), `${caption.join('  \n')}\n\n${table}\n\nNotes:\n${notes.join('\n')}\n`);
log(`results: ${resultsFile}\nchart: ${join(resultsDir, `${latest}.svg`)}`);
