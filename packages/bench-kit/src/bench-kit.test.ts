import { describe, expect, it } from 'vitest';
import { benchArgs } from './args.ts';
import { measureAdapterOverhead, type BenchProviderOptions } from './paired.ts';
import { interleavedRates, rotation } from './rates.ts';
import { median } from './stats.ts';
import { renderMarkdown, renderMarkdownBody, renderText, type Table } from './table.ts';

describe('rotation', () => {
  it('puts every item first in some round when there are as many rounds as items', () => {
    const items = ['a', 'b', 'c', 'd'];
    const firsts = [0, 1, 2, 3].map((round) => rotation(items, round, 4)[0]);
    expect(firsts).toEqual(['a', 'b', 'c', 'd']);
  });

  it('spreads the shifts over the items when there are fewer rounds, and keeps every item once', () => {
    const items = ['a', 'b', 'c', 'd', 'e', 'f'];
    expect([0, 1, 2].map((round) => rotation(items, round, 3)[0])).toEqual(['a', 'c', 'e']);
    for (let round = 0; round < 5; round++) expect([...rotation(items, round, 5)].sort()).toEqual(items);
  });

  it('handles no items and a single round', () => {
    expect(rotation([], 3, 5)).toEqual([]);
    expect(rotation(['x', 'y'], 0, 1)).toEqual(['x', 'y']);
  });
});

describe('interleavedRates', () => {
  it('measures every contender in every round, in rotating order, after a warm-up', async () => {
    const order: string[] = [];
    let last = '';
    const contender = (id: string) => ({
      id,
      call: async () => {
        if (id !== last) order.push(id);
        last = id;
      },
    });
    const result = await interleavedRates([contender('a'), contender('b'), contender('c')], {
      calls: 50,
      rounds: 3,
      warmupCalls: 5,
    });
    // warm-up a b c, then rounds: a b c | b c a | c a b
    expect(order).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'b', 'c', 'a', 'c', 'a', 'b']);
    for (const id of ['a', 'b', 'c']) {
      expect(result.samples.get(id)).toHaveLength(3);
      expect(result.rates.get(id)).toBeGreaterThan(0);
      expect(result.rates.get(id)).toBe(median(result.samples.get(id)!));
    }
  });

  it('rejects two contenders with one id', async () => {
    const call = async () => undefined;
    await expect(
      interleavedRates(
        [
          { id: 'a', call },
          { id: 'a', call },
        ],
        { calls: 1, rounds: 1 },
      ),
    ).rejects.toThrow(/ids must differ/);
  });
});

describe('median', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe('benchArgs', () => {
  const sizes = { full: { requests: 5000, rounds: 7 }, quick: { requests: 500, rounds: 5 } };
  const withArgv = <T>(args: string[], fn: () => T): T => {
    const saved = process.argv;
    process.argv = [saved[0]!, 'bench.ts', ...args];
    try {
      return fn();
    } finally {
      process.argv = saved;
    }
  };

  it('reads --quick, --markdown, sizes and the bench’s own flags', () => {
    expect(withArgv(['--quick', '--markdown', '--floor'], () => benchArgs(sizes, ['floor']))).toEqual({
      requests: 500,
      rounds: 5,
      quick: true,
      markdown: true,
      flags: { floor: true },
    });
    expect(withArgv(['--requests', '20'], () => benchArgs(sizes))).toMatchObject({
      requests: 20,
      rounds: 7,
      quick: false,
      markdown: false,
    });
  });

  it('refuses a count that is not a positive integer', () => {
    expect(() => withArgv(['--rounds', '0'], () => benchArgs(sizes))).toThrow(/--rounds must be a positive integer/);
    expect(() => withArgv(['--requests', 'x'], () => benchArgs(sizes))).toThrow(/--requests/);
  });
});

describe('tables', () => {
  const table: Table = {
    title: 'T',
    note: 'what and how',
    columns: ['name', 'rate'],
    rows: [
      ['a|b', '1.5'],
      ['c', 'n/a'],
    ],
    footnotes: ['foot'],
  };

  it('renders Markdown with a heading, or only the body for a package bench’s section', () => {
    const body = renderMarkdownBody(table);
    expect(body).toBe(
      ['what and how', '', '| name | rate |', '| --- | ---: |', '| a\\|b | 1.5 |', '| c | n/a |', '', 'foot  '].join(
        '\n',
      ),
    );
    expect(renderMarkdown(table, '##')).toBe(`## T\n\n${body}`);
  });

  it('aligns figures to the right in the terminal', () => {
    expect(renderText(table).split('\n')).toContain('a|b    1.5');
    expect(renderText(table).split('\n')).toContain('c      n/a');
  });
});

describe('measureAdapterOverhead', () => {
  /** A provider that asks the bench's token server for a token on every call, or once when `cache` is set. */
  function provider(cache: boolean) {
    return (options: BenchProviderOptions) => {
      let held: Promise<string> | undefined;
      const fetchToken = async () => {
        const res = await fetch(options.tokenEndpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'client_credentials',
            client_id: options.clientId,
            client_secret: options.clientSecret,
          }),
        });
        const body = (await res.json()) as { access_token: string };
        return `Bearer ${body.access_token}`;
      };
      return { authorizationHeader: () => (cache ? (held ??= fetchToken()) : fetchToken()) };
    };
  }

  it('measures the pair the bench builds with the provider and its cached header, then closes it', async () => {
    const sent: string[] = [];
    let closed = 0;
    const result = await measureAdapterOverhead(
      provider(true),
      ({ tokens, authorization, api }) => {
        const get = async (header: string) => {
          const res = await fetch(`${api.origin}/payments`, { headers: { authorization: header } });
          await res.arrayBuffer();
          sent.push(header);
        };
        return {
          adapter: async () => get(await tokens.authorizationHeader()),
          baseline: () => get(authorization),
          close: async () => void closed++,
        };
      },
      { requests: 5, rounds: 2 },
    );
    expect(result.rounds).toHaveLength(2);
    expect(result.requests).toBe(5);
    expect(sent).toHaveLength(2 * (5 + 5 + 5)); // the warm-up round and two rounds, both variants
    expect(new Set(sent).size).toBe(1);
    expect(closed).toBe(1);
  });

  it('fails when the requests did not share one token', async () => {
    let closed = 0;
    const run = measureAdapterOverhead(
      provider(false),
      ({ tokens }) => ({
        adapter: () => tokens.authorizationHeader(),
        baseline: async () => undefined,
        close: async () => void closed++,
      }),
      { requests: 2, rounds: 1 },
    );
    await expect(run).rejects.toThrow(/expected one token request, saw \d+/);
    expect(closed).toBe(1);
  });
});
