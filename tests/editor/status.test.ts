/** The editor's status bookkeeping: "saved" only from the server's acknowledgement. */
import { describe, expect, it } from 'vitest';
import { covers, holdsNoneOf, StatusTracker, type StateVector } from '../../editor/src/status.js';

function tracker(initial: Array<[number, number]> = []) {
  let local: StateVector = new Map(initial);
  const status = new StatusTracker(() => local);
  return {
    status,
    edit(client: number, clock: number) {
      local = new Map([...local, [client, clock]]);
      status.update();
    },
  };
}

describe('StatusTracker', () => {
  it('is connecting until the first sync, then live', () => {
    const { status } = tracker();
    expect(status.status.state).toBe('connecting');
    expect(status.setSynced(true)).toBe(true);
    expect(status.status).toMatchObject({ state: 'live', connected: true, unsaved: false, label: 'Live' });
  });

  it('is saving after a local edit, and saved only once an acknowledgement covers it', () => {
    const { status, edit } = tracker();
    status.setSynced(true);
    edit(1, 5);
    expect(status.status.state).toBe('saving');
    // The server has something, but not all of it: still saving.
    status.saved(new Map([[1, 3]]));
    expect(status.status.state).toBe('saving');
    status.saved(
      new Map([
        [1, 5],
        [2, 9],
      ]),
    );
    expect(status.status).toMatchObject({ state: 'saved', unsaved: false, label: 'Saved' });
  });

  it('never calls something saved because the server merely has it', () => {
    const { status, edit } = tracker();
    status.setSynced(true);
    edit(1, 2);
    status.serverHas(new Map([[1, 2]]));
    expect(status.status.state).toBe('live');
  });

  it('is offline with edits waiting after the connection drops, and connecting before it ever worked', () => {
    const { status, edit } = tracker();
    status.connectionFailed();
    expect(status.status.state).toBe('offline');
    status.setSynced(true);
    status.setSynced(false);
    expect(status.status.label).toBe('Offline');
    edit(7, 1);
    expect(status.status).toMatchObject({ state: 'offline', unsaved: true, label: 'Offline · edits waiting' });
  });

  it('shows a server error until everything is saved again', () => {
    const { status, edit } = tracker();
    status.setSynced(true);
    edit(1, 1);
    status.failed('storage-failed', 'the disk is full');
    expect(status.status).toMatchObject({ state: 'error', label: 'Not saved: the disk is full' });
    status.saved(new Map([[1, 1]]));
    expect(status.status.state).toBe('saved');
    expect(status.status.error).toBeNull();
  });

  it('shows why the server closed the connection until a new one syncs', () => {
    const { status } = tracker();
    status.setSynced(true);
    status.connectionFailed();
    status.failed('closed-1008', 'token expired');
    expect(status.status).toMatchObject({ state: 'error', label: 'Error: token expired' });
    status.setSynced(true);
    expect(status.status).toMatchObject({ state: 'live', error: null });
  });

  it('reports read-only alongside the state', () => {
    const { status } = tracker();
    status.setSynced(true);
    status.setReadOnly(true);
    expect(status.status).toMatchObject({ state: 'live', readOnly: true });
  });

  it('makes no claim about cached content until the remembered server state is looked up', () => {
    const local: StateVector = new Map([[4, 10]]);
    const status = new StatusTracker(() => local, false);
    status.connectionFailed();
    expect(status.status).toMatchObject({ state: 'offline', unsaved: false });
    status.serverHas(new Map([[4, 8]]));
    status.storedLookedUp();
    expect(status.status).toMatchObject({ state: 'offline', unsaved: true, label: 'Offline · edits waiting' });
  });

  it('counts cached content as unsaved until the server is known to hold it', () => {
    const { status } = tracker([[4, 10]]);
    expect(status.status.unsaved).toBe(true);
    status.serverHas(new Map([[4, 10]]));
    expect(status.status.unsaved).toBe(false);
  });
});

describe('covers', () => {
  it('needs every local clock', () => {
    expect(covers(new Map([[1, 3]]), new Map([[1, 3]]))).toBe(true);
    expect(covers(new Map([[1, 3]]), new Map([[1, 4]]))).toBe(false);
    expect(covers(new Map(), new Map([[2, 1]]))).toBe(false);
    expect(covers(new Map([[2, 1]]), new Map())).toBe(true);
  });
});

describe('holdsNoneOf', () => {
  it('is true only when every client known to be held is missing', () => {
    const sv = (...entries: Array<[number, number]>): StateVector => new Map(entries);
    // Deleted and created again: the new document has only clients of its own.
    expect(holdsNoneOf(sv([9, 1]), sv([1, 5], [2, 3]))).toBe(true);
    expect(holdsNoneOf(sv(), sv([1, 5]))).toBe(true);
    // A crash lost the last writes: less of a client, but the client is there.
    expect(holdsNoneOf(sv([1, 2]), sv([1, 5], [2, 3]))).toBe(false);
    expect(holdsNoneOf(sv([2, 3]), sv([1, 5], [2, 3]))).toBe(false);
    // Nothing known, nothing to lose.
    expect(holdsNoneOf(sv([1, 2]), sv())).toBe(false);
    expect(holdsNoneOf(sv(), sv([1, 0]))).toBe(false);
  });

  it('says deleted once told, with nothing left unsaved', () => {
    let local: StateVector = new Map();
    const status = new StatusTracker(() => local);
    status.setSynced(true);
    local = new Map([[1, 4]]);
    status.update();
    expect(status.status.unsaved).toBe(true);
    expect(status.setDeleted()).toBe(true);
    expect(status.status).toMatchObject({ state: 'deleted', label: 'Deleted', unsaved: false, connected: false });
  });
});
