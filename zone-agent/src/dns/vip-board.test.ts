import { describe, expect, it } from 'vitest';
import { VipBoard } from './vip-board.js';

const table = (entries: [string, string, string][]) => {
  const m = new Map<string, Map<string, string>>();
  for (const [mesh, service, ip] of entries) m.set(mesh, (m.get(mesh) ?? new Map()).set(service, ip));
  return m;
};

describe('VipBoard', () => {
  it('has nothing until the first sync, then the table; listeners hear only of a different table', () => {
    const board = new VipBoard();
    let heard = 0;
    const unsubscribe = board.subscribe(() => heard++);
    expect(board.current).toBeUndefined();
    board.publish(table([['default', 'web', '240.0.0.1']]));
    expect(heard).toBe(1);
    board.publish(table([['default', 'web', '240.0.0.1']])); // a resync that changed nothing
    expect(heard).toBe(1);
    board.publish(table([['default', 'web', '240.0.0.1'], ['default', 'api', '240.0.0.2']]));
    board.publish(table([['default', 'web', '240.0.0.9'], ['default', 'api', '240.0.0.2']]));
    board.publish(table([['other', 'web', '240.0.0.9'], ['default', 'api', '240.0.0.2']]));
    expect(heard).toBe(4);
    expect(board.current!.get('other')!.get('web')).toBe('240.0.0.9');
    unsubscribe();
    board.publish(new Map());
    expect(heard).toBe(4);
    expect(board.current!.size).toBe(0);
  });
});
