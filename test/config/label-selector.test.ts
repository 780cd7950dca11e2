import t from 'tap';
import fc from 'fast-check';
import {
  describeSelector,
  selectorMatches,
  type LabelSelector,
  type LabelSelectorRequirement,
} from '../../src/config/label-selector.js';

const sel = (matchLabels: Record<string, string>, matchExpressions: LabelSelectorRequirement[] = []): LabelSelector => ({
  matchLabels,
  matchExpressions,
});
const req = (key: string, operator: LabelSelectorRequirement['operator'], values: string[] = []): LabelSelectorRequirement => ({
  key,
  operator,
  values,
});

t.test('selectorMatches', async (t) => {
  const rows: [name: string, selector: LabelSelector, labels: Record<string, string>, want: boolean][] = [
    ['empty selector, no labels', sel({}), {}, true],
    ['empty selector, some labels', sel({}), { app: 'web', tier: 'front' }, true],

    ['matchLabels equal', sel({ app: 'web' }), { app: 'web', x: 'y' }, true],
    ['matchLabels other value', sel({ app: 'web' }), { app: 'db' }, false],
    ['matchLabels missing key', sel({ app: 'web' }), { tier: 'web' }, false],
    ['matchLabels all must match', sel({ app: 'web', tier: 'front' }), { app: 'web', tier: 'back' }, false],
    ['matchLabels all match', sel({ app: 'web', tier: 'front' }), { app: 'web', tier: 'front' }, true],
    ['matchLabels empty value needs key present with ""', sel({ app: '' }), {}, false],
    ['matchLabels empty value matches ""', sel({ app: '' }), { app: '' }, true],

    ['In: value listed', sel({}, [req('env', 'In', ['prod', 'staging'])]), { env: 'staging' }, true],
    ['In: value not listed', sel({}, [req('env', 'In', ['prod', 'staging'])]), { env: 'dev' }, false],
    ['In: key absent', sel({}, [req('env', 'In', ['prod'])]), {}, false],
    ['In: "" listed, key absent', sel({}, [req('env', 'In', [''])]), {}, false],
    ['In: "" listed, key ""', sel({}, [req('env', 'In', [''])]), { env: '' }, true],

    ['NotIn: value listed', sel({}, [req('env', 'NotIn', ['prod'])]), { env: 'prod' }, false],
    ['NotIn: value not listed', sel({}, [req('env', 'NotIn', ['prod'])]), { env: 'dev' }, true],
    ['NotIn: key absent matches', sel({}, [req('env', 'NotIn', ['prod'])]), {}, true],

    ['Exists: present', sel({}, [req('gpu', 'Exists')]), { gpu: '' }, true],
    ['Exists: absent', sel({}, [req('gpu', 'Exists')]), { cpu: 'x' }, false],
    ['DoesNotExist: absent', sel({}, [req('gpu', 'DoesNotExist')]), { cpu: 'x' }, true],
    ['DoesNotExist: present', sel({}, [req('gpu', 'DoesNotExist')]), { gpu: 'nvidia' }, false],

    [
      'matchLabels AND expressions, all hold',
      sel({ app: 'web' }, [req('env', 'In', ['prod']), req('canary', 'DoesNotExist')]),
      { app: 'web', env: 'prod' },
      true,
    ],
    [
      'matchLabels AND expressions, one expression fails',
      sel({ app: 'web' }, [req('env', 'In', ['prod']), req('canary', 'DoesNotExist')]),
      { app: 'web', env: 'prod', canary: 'true' },
      false,
    ],
    [
      'matchLabels AND expressions, label fails',
      sel({ app: 'web' }, [req('env', 'In', ['prod'])]),
      { app: 'db', env: 'prod' },
      false,
    ],
    // labels is a plain record: inherited Object.prototype members are not labels
    ['Exists does not see prototype keys', sel({}, [req('toString', 'Exists')]), {}, false],
    ['DoesNotExist does not see prototype keys', sel({}, [req('constructor', 'DoesNotExist')]), {}, true],
    ['In does not see prototype keys', sel({}, [req('hasOwnProperty', 'In', ['x'])]), {}, false],
  ];
  for (const [name, selector, labels, want] of rows) {
    t.equal(selectorMatches(selector, labels), want, name);
  }
});

t.test('describeSelector', async (t) => {
  const rows: [LabelSelector, string][] = [
    [sel({}), '<everything>'],
    [sel({ app: 'web', tier: 'front' }), 'app=web,tier=front'],
    [sel({}, [req('env', 'In', ['prod', 'staging'])]), 'env in (prod,staging)'],
    [sel({}, [req('env', 'NotIn', ['dev'])]), 'env notin (dev)'],
    [sel({}, [req('gpu', 'Exists')]), 'gpu'],
    [sel({}, [req('gpu', 'DoesNotExist')]), '!gpu'],
    [sel({ app: 'web' }, [req('gpu', 'Exists')]), 'app=web,gpu'],
  ];
  for (const [selector, want] of rows) t.equal(describeSelector(selector), want, want);
});

t.test('NotIn is the complement of In, Exists of DoesNotExist (property)', async (t) => {
  const key = fc.constantFrom('a', 'b', 'c');
  const value = fc.constantFrom<string>('x', 'y', 'z', '');
  const labels = fc.dictionary(key, value);
  fc.assert(
    fc.property(key, fc.uniqueArray(value, { minLength: 1, maxLength: 3 }), labels, (k, values, l) => {
      const inM = selectorMatches(sel({}, [req(k, 'In', values)]), l);
      const notInM = selectorMatches(sel({}, [req(k, 'NotIn', values)]), l);
      const exists = selectorMatches(sel({}, [req(k, 'Exists')]), l);
      const dne = selectorMatches(sel({}, [req(k, 'DoesNotExist')]), l);
      const eq = selectorMatches(sel({ [k]: values[0] as string }), l);
      return (
        inM !== notInM &&
        exists !== dne &&
        exists === Object.hasOwn(l, k) &&
        inM === (Object.hasOwn(l, k) && values.includes(l[k] as string)) &&
        eq === (l[k] === values[0])
      );
    }),
    { numRuns: 300 },
  );
  t.pass('300 random cases held');
});
