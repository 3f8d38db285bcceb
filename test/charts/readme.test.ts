import t from 'tap';
import { readFileSync } from 'node:fs';
import { CHARTS, readmePath, readParams, renderChartReadme, renderReadme } from '../../scripts/chart-readme.js';

// Each chart's README.md is generated from the ## @param comments of its values.yaml.
for (const chart of CHARTS) {
  t.test(`charts/${chart}/README.md is the one scripts/chart-readme.ts generates (npm run charts:readme)`, async (t) => {
    t.equal(readFileSync(readmePath(chart), 'utf8'), renderChartReadme(chart));
  });
}

t.test('the generator: sections with their notes, parameters in file order, defaults from the YAML, pipes escaped', async (t) => {
  const values = [
    '## @param nameOverride Replaces the name',
    'nameOverride: ""',
    '',
    '## @section Service',
    '## Empty means the default.',
    'config:',
    '  ## @param config.port PORT | the listener',
    '  port: 8080',
    '  ## @param config.cidrs CIDRs',
    '  cidrs: [10.0.0.0/8]',
    '  ## @param config.ttl TTL (service default)',
    '  ttl: null',
  ].join('\n');
  t.same(readParams(values), [
    { title: 'Parameters', notes: [], params: [{ name: 'nameOverride', description: 'Replaces the name' }] },
    { title: 'Service', notes: ['Empty means the default.'], params: [
      { name: 'config.port', description: 'PORT | the listener' },
      { name: 'config.cidrs', description: 'CIDRs' },
      { name: 'config.ttl', description: 'TTL (service default)' },
    ] },
  ]);
  const readme = renderReadme('name: demo\nversion: 1.2.3\ndescription: A demo.\n', values);
  t.match(readme, '# demo\n');
  t.match(readme, '## Service\n\nEmpty means the default.\n\n| Name | Description | Default |\n| --- | --- | --- |\n');
  t.match(readme, '| `config.port` | PORT \\| the listener | `8080` |');
  t.match(readme, '| `config.cidrs` | CIDRs | `["10.0.0.0/8"]` |');
  t.match(readme, '| `config.ttl` | TTL (service default) | `nil` |');
  t.match(readme, '| `nameOverride` | Replaces the name | `""` |');
});
