import t from 'tap';
import { WorkQueue } from '../../src/controller/work-queue.js';

t.test('a waiting key is queued once; a key in work comes back after done', async (t) => {
  const q = new WorkQueue();
  q.add('a');
  q.add('a');
  q.add('b');
  t.equal(q.length, 2);
  const first = await q.take();
  t.equal(first, 'a');
  q.add('a');
  t.equal(q.length, 1, 'a is in work: not queued beside it');
  q.done('a');
  t.equal(await q.take(), 'b');
  t.equal(await q.take(), 'a', 're-queued after done');
});

t.test('every waiting worker wakes on add and on close', async (t) => {
  const q = new WorkQueue();
  const takers = [q.take(), q.take(), q.take()];
  q.add('x');
  q.add('y');
  t.same((await Promise.all(takers.slice(0, 2))).sort(), ['x', 'y'], 'two sleeping workers woke for two keys');
  q.close();
  t.equal(await takers[2], undefined, 'the third wakes on close with nothing');
});

t.test('addAfter delivers later, once', async (t) => {
  const q = new WorkQueue();
  q.addAfter('k', 10);
  q.addAfter('k', 10);
  t.equal(await q.take(), 'k');
  q.done('k');
  await new Promise((r) => setTimeout(r, 30));
  t.equal(q.length, 0);
  q.close();
});
